/** Log limits both stores apply, so one runaway task can not bloat either store. */

// One line limit and one cutter for every producer of log lines (executors and stores alike).
export { MAX_LOG_LINE_BYTES, cutLogLine } from '../log-line.js';
/** Each job keeps at most about this many of its latest log lines; older ones are deleted in chunks. */
export const LOG_RETENTION_LINES = 10_000;
/** Retention runs when a job's seq crosses a multiple of this: one cheap indexed delete per chunk, not per insert. */
export const LOG_RETENTION_CHUNK = 1_000;
