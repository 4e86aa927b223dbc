import { EventEmitter } from 'node:events';
import type { Store } from '../store/contract.js';
import type { TaskMap } from '../task/registry.js';
import type { Executor } from '../executors/types.js';
import { Slots } from './slots.js';
import { type SupervisorEvent } from './supervise.js';
export interface WorkerOptions {
    store: Store;
    tasks: TaskMap;
    /** Absolute path of the tasks module (executors load it by path). */
    tasksModule: string;
    /** Slots: attempts running at once (parents waiting on children do not count). Default 4. */
    concurrency?: number;
    /** Lease length; renewed every leaseMs/3 (at most every second). Default 30s. */
    leaseMs?: number;
    /** How long a graceful stop lets running attempts finish. Default 30s. */
    drainMs?: number;
    /** Re-check the store this often when idle (other processes' SQLite writes are not pushed). Default 500 ms. */
    pollMs?: number;
    /** Bound of a hang capture before a kill. Default 2s. */
    captureBudgetMs?: number;
    workerId?: string;
    executors: {
        thread: Executor;
        process: Executor;
        command: Executor;
    };
    /** Claim only this job and its descendants (used by `vigil run`). */
    rootJobId?: string;
}
export type WorkerEvent = SupervisorEvent | {
    type: 'error';
    message: string;
    error: unknown;
} | {
    type: 'idle';
};
/**
 * A worker: claims jobs into its slots, supervises each attempt, renews leases, recovers the leases of dead
 * workers, and drains on stop. Task code never runs here (DESIGN G8); this loop only waits.
 */
export declare class Worker extends EventEmitter {
    private readonly options;
    readonly workerId: string;
    readonly slots: Slots;
    private readonly running;
    private readonly batcher;
    private readonly leaseMs;
    private readonly pollMs;
    private stopping;
    private loop;
    private wake;
    private pendingWake;
    private clockOffset;
    private readonly intervals;
    private unsubscribe;
    private lastRecovery;
    private readonly loopDelay;
    private storeDownSince;
    constructor(options: WorkerOptions);
    get runningCount(): number;
    start(): Promise<void>;
    /** Graceful stop: no new claims; running attempts get drainMs to finish; the rest go back to the queue. */
    stop(options?: {
        drainMs?: number;
    }): Promise<void>;
    /** Second signal: stop now. Attempts are killed and returned to the queue uncharged. */
    forceStop(): Promise<void>;
    private close;
    /** Event-loop delay of this (supervisor) process, in ms: G8 says it stays small. */
    eventLoopDelay(): {
        p50: number;
        p99: number;
        max: number;
    };
    private poke;
    private claimLoop;
    private idle;
    private taskLimits;
    private launch;
    private makeSupervisor;
    private renew;
    private maybeRecover;
    private reportStats;
    private emitError;
}
