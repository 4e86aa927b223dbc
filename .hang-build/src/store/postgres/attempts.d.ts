import type { ActivityUpdate, AttemptFinish, Fence, NewLogLine } from '../contract.js';
import type { Db } from './db.js';
export declare function renewLeases(db: Db, workerId: string, fences: Fence[], leaseMs: number): Promise<{
    lost: Fence[];
    cancelRequested: Fence[];
}>;
export declare function recordActivity(db: Db, updates: ActivityUpdate[]): Promise<void>;
export declare function appendLogs(db: Db, lines: NewLogLine[]): Promise<void>;
/**
 * Ends an attempt in one statement. A second call for the same fence answers false: the attempt is over. (If the
 * reply to a committed call is lost with the connection, the retry answers false too; the outcome is recorded
 * once, and the attempt's row shows it.)
 */
export declare function finishAttempt(db: Db, fence: Fence, finish: AttemptFinish): Promise<boolean>;
