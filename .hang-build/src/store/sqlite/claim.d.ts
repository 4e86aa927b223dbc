import type { ClaimRequest, Claimed, Fence } from '../contract.js';
import type { Db } from './connection.js';
import { type OpResult } from './jobs.js';
/**
 * One batch claim, inside one BEGIN IMMEDIATE transaction (so two processes never take the same job): first the
 * queued jobs of these tasks whose deadline passed are failed with kind `deadline`, then the best candidates of
 * each task (up to its limit) are merged in claim order and taken up to `limit`.
 */
export declare function claim(db: Db, req: ClaimRequest, now: number): OpResult<Claimed[]>;
export declare function renewLeases(db: Db, workerId: string, fences: Fence[], leaseMs: number, now: number): {
    lost: Fence[];
    cancelRequested: Fence[];
};
