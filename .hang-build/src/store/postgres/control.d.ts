import type { Job } from '../../types.js';
import type { Db } from './db.js';
/**
 * One statement over the whole subtree. The UPDATE's CASE is evaluated on the row as it is when the lock is
 * taken, so a job a worker claims at this very moment still gets cancelRequested instead of slipping through.
 */
export declare function cancel(db: Db, jobIds: string[], reason: string): Promise<Job[]>;
/** A failed or cancelled job back to the queue with a fresh attempt budget (and a fresh deadline, if it had one). */
export declare function retry(db: Db, jobId: string): Promise<Job>;
