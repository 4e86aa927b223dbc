import type { Store } from '../store/contract.js';
import { type Job } from '../types.js';
export interface WaitOptions {
    signal?: AbortSignal;
    /** Re-read the store at least this often (events from other SQLite processes are not pushed). */
    pollMs?: number;
}
/**
 * Re-reads `ids` whenever the store reports a change (or every pollMs) until `done(jobs)` returns a value other
 * than undefined. Event-driven in-process; polling only covers what no event can announce.
 */
export declare function waitForJobs<T>(store: Store, ids: string[], done: (jobs: Job[]) => T | undefined, options?: WaitOptions): Promise<T>;
export declare function isTerminal(job: Job): boolean;
