import type { Attempt, Job, JobState, LogLine } from '../../types.js';
import type { JobFilter } from '../contract.js';
import type { Db } from './db.js';
export declare function get(db: Db, jobId: string): Promise<Job | null>;
export declare function getMany(db: Db, jobIds: string[]): Promise<Job[]>;
/** Newest first. */
export declare function list(db: Db, filter: JobFilter): Promise<Job[]>;
export declare function children(db: Db, parentId: string): Promise<Job[]>;
export declare function attempts(db: Db, jobId: string): Promise<Attempt[]>;
export declare function logs(db: Db, jobId: string, options?: {
    afterSeq?: number;
    limit?: number;
    attempt?: number;
    tail?: boolean;
}): Promise<LogLine[]>;
export declare function counts(db: Db): Promise<Record<JobState, number>>;
export declare function now(db: Db): Promise<number>;
