import type { AttemptChannel, AttemptSpec, Executor, RunningAttempt } from './types.js';
/**
 * Isolation 'process': one Node process per attempt, leading its own process group. Ending it never needs the
 * task's cooperation: SIGKILL to the group and to every descendant seen (DESIGN G1). Memory is enforced on the
 * RSS of the whole tree.
 */
export interface ProcessExecutorOptions {
    /** After kill(), how long to wait for the process's exit before the attempt is reported killed anyway (default 500 ms). */
    killBoundMs?: number;
    /** How often the tree's RSS is sampled when memoryMb is set (default 250 ms). */
    memorySampleMs?: number;
}
/**
 * execArgv of an attempt process: the one place its Node flags are built (forensics may add report flags here).
 */
export declare function attemptExecArgv(): string[];
export declare class ProcessExecutor implements Executor {
    private readonly killBoundMs;
    private readonly memorySampleMs;
    private readonly attempts;
    private closed;
    constructor(options?: ProcessExecutorOptions);
    start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt;
    close(): Promise<void>;
}
