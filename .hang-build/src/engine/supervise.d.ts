import type { Claimed, Fence, Store } from '../store/contract.js';
import type { TaskDefinition } from '../task/define.js';
import type { TaskMap } from '../task/registry.js';
import type { Executor } from '../executors/types.js';
import { type ErrorKind, type Progress } from '../types.js';
import type { ActivityBatcher } from './log-batcher.js';
import type { Slots } from './slots.js';
export interface SupervisorDeps {
    store: Store;
    tasks: TaskMap;
    tasksModule: string;
    batcher: ActivityBatcher;
    slots: Slots;
    executorFor(task: TaskDefinition): Executor;
    /** storeNow - localNow, to turn store-clock deadlines into local timers. */
    clockOffsetMs(): number;
    captureBudgetMs: number;
    pollMs?: number;
    onEvent?(event: SupervisorEvent): void;
}
export type SupervisorEvent = {
    type: 'started';
    jobId: string;
    attempt: number;
    task: string;
} | {
    type: 'progress';
    jobId: string;
    progress: Progress;
} | {
    type: 'enforcing';
    jobId: string;
    attempt: number;
    kind: ErrorKind;
    message: string;
} | {
    type: 'finished';
    jobId: string;
    attempt: number;
    outcome: 'succeeded' | ErrorKind;
    recorded: boolean;
    retrying: boolean;
};
/**
 * Supervises one attempt from claim to its recorded outcome. All enforcement happens here, outside the task:
 * timers for timeout/deadline/heartbeat/silence → hang capture (bounded) and abort → grace → kill. The attempt's
 * code runs in an executor; this runs on the worker's event loop and only waits on timers, messages and the store.
 */
export declare class AttemptSupervisor {
    private readonly claimed;
    private readonly deps;
    readonly fence: Fence;
    private running;
    private ending;
    private hangReport;
    private readonly startedAt;
    private readonly timers;
    private heartbeatTimer;
    private silenceTimer;
    private lastHeartbeatAt;
    private progress;
    private readonly logTail;
    private holdsSlot;
    private waitingChildren;
    private readonly lifetime;
    private readonly def;
    private enforcing;
    private codeEnded;
    constructor(claimed: Claimed, deps: SupervisorDeps);
    get jobId(): string;
    get task(): string;
    /** True while it counts against the worker's slots (false while a parent waits for children). */
    get active(): boolean;
    /** Runs the attempt to the end and records it. Never throws. */
    run(): Promise<void>;
    /** A cancellation request arrived (store event or lease renewal). */
    cancel(reason?: string): void;
    /** The lease is gone: another worker may already run this job. Kill and record nothing (G5). */
    leaseLost(): void;
    /** Worker shutdown after the drain period: stop the attempt and return the job to the queue uncharged. */
    shutdown(): void;
    private buildSpec;
    private channel;
    /**
     * Waiting counts towards the attempt's timeout and deadline (they keep running); the heartbeat requirement is
     * suspended while waiting, because the engine itself is doing the waiting. The slot is given back meanwhile.
     */
    private waitChildren;
    private setHoldsSlot;
    /** Ends the attempt from outside: capture where it is stuck (bounded), abort, grace, kill. */
    private enforce;
    private stop;
    private capture;
    private record;
    private decide;
    private describeEnding;
    private at;
    private armHeartbeat;
    private armSilence;
    private disarm;
    private clearTimers;
}
