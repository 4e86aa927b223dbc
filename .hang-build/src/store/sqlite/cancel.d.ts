import { type JobRow } from '../rows.js';
import type { Db } from './connection.js';
import { type OpResult } from './jobs.js';
/**
 * Cancels the named jobs and every descendant (one recursive CTE walks the subtree): queued ones end at once,
 * running ones get cancelRequested for their worker to act on at its next lease renewal.
 */
export declare function cancel(db: Db, jobIds: string[], reason: string, now: number): OpResult<JobRow[]>;
/** A failed or cancelled job back to the queue, with a fresh attempt budget and, if it has one, a fresh deadline. */
export declare function retry(db: Db, jobId: string, now: number): OpResult<JobRow>;
