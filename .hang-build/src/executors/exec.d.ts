import type { ExecOptions, ExecResult } from '../task/define.js';
/**
 * `ctx.exec(argv, options)` for function tasks: the same machinery as command tasks (own process group, stdin
 * closed by default, bounded output, the whole tree killed), so a function task that starts programs never leaves
 * orphans. Runs inside the task's thread or process; `started`/`ended` tell the supervisor the program's pid, whose
 * process group it kills if the task's thread or process has to be killed itself.
 */
export interface ExecEnv {
    signal: AbortSignal;
    /** When the attempt must be over (epoch ms): the default timeout of a program. */
    endsAt: number;
    log(stream: 'stdout' | 'stderr', line: string, ts: number): void;
    started(pid: number): void;
    ended(pid: number): void;
}
/** After an abort or a timeout, how long the program gets to act on SIGTERM before SIGKILL. */
export declare const EXEC_GRACE_MS = 2000;
/** A program run by ctx.exec failed: non-zero exit, death by a signal, timeout, or the attempt was aborted. */
export declare class ExecError extends Error {
    readonly code = "VIGIL_EXEC_FAILED";
    readonly exitCode: number | null;
    readonly signal: string | null;
    readonly timedOut: boolean;
    /** The last 64 KiB of each stream. */
    readonly stdout: string;
    readonly stderr: string;
    readonly details: {
        argv: string[];
        exitCode: number | null;
        signal: string | null;
        timedOut: boolean;
    };
    constructor(message: string, argv: string[], result: ExecResult, timedOut: boolean, options?: {
        cause?: unknown;
    });
}
export declare function contextExec(argv: string[], options: ExecOptions | undefined, env: ExecEnv): Promise<ExecResult>;
