import type { Fence, Store } from '../store/contract.js';
import type { LogStream, Progress } from '../types.js';
export interface BatcherOptions {
    flushEveryMs?: number;
    /** Lines held in memory at most; beyond it lines are dropped and the drop is logged. */
    maxPendingLines?: number;
    onError?: (err: unknown) => void;
}
/**
 * Heartbeats, progress and log lines go to the store in batches (one transaction per flush), never one write per
 * line: a task that prints a million lines costs a few hundred writes. Memory is bounded: when the store falls
 * behind, lines are dropped and a `system` line says how many.
 */
export declare class ActivityBatcher {
    private readonly store;
    private readonly options;
    private lines;
    private readonly dropped;
    private readonly activity;
    private timer;
    private flushing;
    private readonly flushEveryMs;
    private readonly maxPendingLines;
    constructor(store: Store, options?: BatcherOptions);
    log(fence: Fence, stream: LogStream, line: string, ts: number): void;
    heartbeat(fence: Fence, at: number): void;
    progress(fence: Fence, progress: Progress): void;
    /** Writes everything pending now; resolves when it is in the store. */
    flush(): Promise<void>;
    close(): Promise<void>;
    private update;
    private schedule;
}
export declare function fenceKey(fence: Fence): string;
