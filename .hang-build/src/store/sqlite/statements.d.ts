import type { Statement } from 'better-sqlite3';
import type { Fence } from '../contract.js';
import type { Db } from './connection.js';
/** A prepared statement, compiled once per connection: nothing on the hot path is parsed twice. */
export declare function stmt(db: Db, sql: string): Statement;
/** The fence of DESIGN G5 as SQL: the job is running this very attempt, under this worker's unexpired lease. */
export declare const FENCED = "id = @jobId AND state = 'running' AND attempts = @attempt AND lease_owner = @workerId AND lease_expires_at > @now";
/** Named parameters of FENCED. A malformed job id matches nothing (never NaN into SQL). */
export declare function fenceArgs(f: Fence, now: number): {
    jobId: number;
    attempt: number;
    workerId: string;
    now: number;
};
