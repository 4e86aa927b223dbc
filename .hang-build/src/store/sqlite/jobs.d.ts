import type { JobState } from '../../types.js';
import type { EnqueueResult, JobFilter, NewJob, StoreEvent } from '../contract.js';
import { type JobRow } from '../rows.js';
import type { Db } from './connection.js';
export interface OpResult<T> {
    value: T;
    events: StoreEvent[];
}
/** Inserts a batch in order; called inside one transaction. Existing (parent, key) or idempotency keys are returned. */
export declare function enqueue(db: Db, jobs: NewJob[], now: number): OpResult<EnqueueResult[]>;
export declare function get(db: Db, jobId: string): JobRow | undefined;
/** In the order asked, missing ids omitted. */
export declare function getMany(db: Db, jobIds: string[]): JobRow[];
export declare const DEFAULT_LIST_LIMIT = 100;
/** Newest first. */
export declare function list(db: Db, f: JobFilter): JobRow[];
export declare function children(db: Db, parentId: string): JobRow[];
export declare function counts(db: Db): Record<JobState, number>;
export declare function nextRunAt(db: Db, tasks: string[]): number | null;
export declare function finishedEvent(row: JobRow): StoreEvent;
export declare function isTerminal(state: string): boolean;
