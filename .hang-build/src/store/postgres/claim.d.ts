import type { ClaimRequest, Claimed } from '../contract.js';
import type { Db } from './db.js';
/**
 * One statement: fails queued jobs past their deadline, then takes up to `limit` runnable jobs with
 * `FOR UPDATE SKIP LOCKED` (concurrent workers skip each other's rows instead of queueing behind them), a per-task
 * sub-select so each task's cap is honoured without starving the others, and writes the attempt rows. Lease
 * expiry is computed from the database clock.
 */
export declare function claim(db: Db, req: ClaimRequest): Promise<Claimed[]>;
/** Earliest runAt among queued jobs of these tasks, so an idle worker sleeps exactly until then. */
export declare function nextRunAt(db: Db, tasks: string[]): Promise<number | null>;
