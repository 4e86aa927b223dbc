import type { Attempt } from '../../types.js';
import type { ActivityUpdate, AttemptFinish, Fence } from '../contract.js';
import { type JobRow } from '../rows.js';
import type { Db } from './connection.js';
import { type OpResult } from './jobs.js';
/** Fenced end of an attempt (see Store.finishAttempt). Returns false, changing nothing, for a stale fence. */
export declare function finishAttempt(db: Db, fence: Fence, finish: AttemptFinish, now: number): OpResult<boolean>;
/**
 * Attempts whose lease expired end `crashed` (charged); their jobs are re-queued after the delay of their own
 * stored retry policy, or failed when the budget is spent (or cancelled, when a cancel was pending).
 */
export declare function recoverExpired(db: Db, now: number): OpResult<JobRow[]>;
/** Heartbeats and progress of live attempts; stale fences change nothing. */
export declare function recordActivity(db: Db, updates: ActivityUpdate[], now: number): void;
export declare function attempts(db: Db, jobId: string): Attempt[];
