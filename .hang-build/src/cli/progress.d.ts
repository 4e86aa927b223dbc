import type { Vigil } from '../vigil.js';
/** One line to stderr; above the progress bar when one is shown. Everything the CLI logs goes through here. */
export declare function stderrLine(text: string): void;
/**
 * Shows a progress bar for a job while `work` is pending, fed by polling `job.progress` (the store is the one place
 * progress is visible from any process). Only when stdout is a terminal: piped output stays clean data. The bar
 * goes to stderr and is cleared before the caller prints the result.
 */
export declare function withProgressBar<T>(vigil: Vigil, jobId: string, work: Promise<T>, enabled?: boolean): Promise<T>;
