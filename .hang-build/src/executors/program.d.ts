import { type ChildProcess } from 'node:child_process';
import { VigilError, type ErrorCode } from '../errors.js';
import type { StdinOption } from '../task/define.js';
import { ByteTail, type LogBudgetOptions } from './line-splitter.js';
import { TreeTracker, type ProcStat } from './proctree.js';
/**
 * One external program under supervision — the machinery shared by command tasks and ctx.exec:
 * - its own process group and session (`detached`), so the whole group can be signalled;
 * - stdin closed by default (/dev/null: a program that asks a question reads end-of-file instead of waiting
 *   forever), or an empty pipe kept open, or a text written then closed;
 * - stdout/stderr consumed as fast as they come, split into lines with bounded memory, and logged within a budget;
 * - its process tree sampled from /proc (to kill descendants that left the group, and to enforce memoryMb);
 * - when the program exits, whatever it left running is killed, and its pipes are not waited on forever (a
 *   background descendant may hold them open).
 */
export type OutputStream = 'stdout' | 'stderr';
export interface ProgramSpec {
    argv: string[];
    cwd?: string;
    /** Added to the inherited environment (VIGIL_TOKEN is never passed on). */
    env?: Record<string, string>;
    stdin: StdinOption;
    /** A line of output, decoded and made safe. `system` lines are Vigil's own notes (budget, leftovers). */
    onLine(stream: OutputStream | 'system', line: string, ts: number): void;
    /** Any output at all arrived (feeds `silence`). */
    onActivity?(): void;
    /** Bytes of each stream kept for error messages and results (default 64 KiB). */
    stdoutTailBytes?: number;
    stderrTailBytes?: number;
    /** Over this RSS (summed over the tree), the tree is SIGKILLed and the exit reports `oom`. */
    memoryMb?: number | null;
    /** Tree sampling period; the first samples come sooner (default 500 ms, 250 ms with memoryMb). */
    sampleMs?: number;
    logBudget?: LogBudgetOptions;
}
export interface ProgramExit {
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    /** Set when the tree went over memoryMb and was killed for it. */
    oom: {
        rssKb: number;
        limitKb: number;
    } | null;
    stdout: ByteTail;
    stderr: ByteTail;
    durationMs: number;
}
/** A program that could not be started: fix the task, not the weather, so never retried. */
export declare class ProgramStartError extends VigilError {
    readonly program: string;
    readonly retryable: false;
    constructor(code: ErrorCode, message: string, program: string, cause?: unknown);
}
export declare function startProgram(spec: ProgramSpec): Promise<Program>;
export declare class Program {
    private readonly child;
    private readonly spec;
    readonly pid: number;
    readonly tracker: TreeTracker;
    readonly exited: Promise<ProgramExit>;
    private readonly startedAt;
    private readonly stdoutTail;
    private readonly stderrTail;
    private readonly budget;
    private sampler;
    private sampleCount;
    private lastOutputAt;
    private oom;
    private hasExited;
    private readonly splitters;
    constructor(child: ChildProcess, spec: ProgramSpec);
    /** SIGTERM (and SIGCONT) to the whole tree: the program's chance to clean up. */
    terminate(): void;
    /** SIGKILL to the whole tree until none of it is left (bounded ~1 s). True when it is gone. */
    kill(): Promise<boolean>;
    /** SIGTERM, up to graceMs, SIGKILL. */
    stop(graceMs: number): Promise<void>;
    get done(): boolean;
    pids(): number[];
    /** The tree as last sampled by pids()/the sampler. */
    lastSample(): ProcStat[];
    private splitter;
    private emit;
    private feedStdin;
    private consume;
    private scheduleSample;
    private tick;
    private afterExit;
}
