import type { Job } from '../../types.js';
import type { Db } from './db.js';
/**
 * One transaction: lock the running jobs whose lease expired on the DATABASE's clock (`SKIP LOCKED`, so workers
 * recovering at the same time split the work instead of doing it twice), decide each job's fate with its own retry
 * policy, and write every decision with one batched UPDATE.
 */
export declare function recoverExpired(db: Db): Promise<Job[]>;
