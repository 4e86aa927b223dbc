/** Outcomes counted as hangs (metrics, alerts): the engine ended the attempt from outside because it stopped making progress. */
export const HANG_OUTCOMES: ReadonlySet<string> = new Set(['timeout', 'stalled', 'oom']);
