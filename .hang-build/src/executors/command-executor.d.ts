import type { ProcessSnapshot, SerializedError } from '../types.js';
import { type ProgramExit } from './program.js';
import type { AttemptChannel, AttemptSpec, Executor, RunningAttempt } from './types.js';
/**
 * Command tasks: one external program per attempt, in its own process group, its whole tree killed on abort/kill
 * (see program.ts and proctree.ts). The engine owns the clock: it calls abort() (SIGTERM to the tree) on timeout,
 * stall or cancel, then kill() after the task's grace. This executor reports output (`activity()` feeds `silence`),
 * enforces memoryMb on the tree's RSS, and turns the exit into an AttemptEnd.
 */
export interface CommandExecutorOptions {
    /** After kill(), how long to wait for the tree to be gone before `done` resolves anyway (default 1000 ms). */
    killBoundMs?: number;
    /** Tree sampling period for memoryMb (default 250 ms). */
    memorySampleMs?: number;
    /** Accepted for symmetry with other executors; the engine applies the task's grace itself. */
    graceMs?: number;
}
/** Enriches the basic tree snapshot of a hang report (the forensics module plugs in here). */
export type TreeSnapshotter = (pids: number[]) => {
    processes: ProcessSnapshot[];
    notes: string[];
};
export declare class CommandExecutor implements Executor {
    private readonly attempts;
    private readonly killBoundMs;
    private readonly memorySampleMs;
    private closed;
    constructor(options?: CommandExecutorOptions);
    start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt;
    close(): Promise<void>;
}
/** Exit ≠ 0 or death by a signal: kind `error`, retryable, with the last lines of stderr in the message. */
export declare function exitError(argv: string[], exit: ProgramExit): SerializedError;
/** Replaces the tree snapshot used by hang reports (tests, other platforms). */
export declare function setTreeSnapshotter(fn: TreeSnapshotter): void;
