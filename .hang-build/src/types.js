/** Data types shared by every layer (store, engine, executors, surfaces). Plain JSON-able shapes only. */
export const TERMINAL_STATES = ['succeeded', 'failed', 'cancelled'];
export const ERROR_KINDS = [
    'error',
    'timeout',
    'stalled',
    'crashed',
    'oom',
    'cancelled',
    'deadline',
    'children',
];
export const RETRYABLE_KINDS = ['error', 'timeout', 'stalled', 'crashed', 'oom'];
//# sourceMappingURL=types.js.map