import type { ChildOutcome, ChildPolicy, Json, RetryPolicy } from '../types.js';
import { type Duration } from './duration.js';
export type Isolation = 'thread' | 'process';
export interface RetryOptions {
    /** Retries after the first attempt. */
    max: number;
    backoff?: Duration;
    factor?: number;
    maxDelay?: Duration;
    /** 0..1, the share of each delay that is randomised. */
    jitter?: number;
}
interface CommonOptions {
    name: string;
    /** Per attempt. Always set: defaults to 30m. */
    timeout?: Duration;
    /** Abort → kill. Defaults to 5s. */
    grace?: Duration;
    /** A task that declares it must call ctx.heartbeat() at least this often, or it is `stalled`. */
    heartbeat?: Duration;
    /** Over all attempts of a job, from submission. */
    deadline?: Duration;
    /** Retries after the first attempt (default 2), or a full policy. */
    retries?: number | RetryOptions;
    memoryMb?: number;
    /** At most this many attempts of the task at once in one worker. */
    concurrency?: number;
}
export interface FunctionTaskOptions<I, O> extends CommonOptions {
    isolation?: Isolation;
    run: (input: I, ctx: TaskContext) => O | Promise<O>;
}
export type StdinOption = 'closed' | 'open' | {
    text: string;
};
export interface CommandTaskOptions<I> extends CommonOptions {
    /** The argument vector. Never a shell string: to use a shell, say so: ['sh', '-c', script]. */
    command: (input: I) => string[];
    cwd?: string;
    env?: Record<string, string>;
    /** 'closed' (default: the program reads end-of-file), 'open' (an empty pipe kept open), or text written then closed. */
    stdin?: StdinOption | ((input: I) => StdinOption);
    /** No output on stdout or stderr for this long → `stalled`. */
    silence?: Duration;
    /**
     * How the job's result is read: 'exit' (default: `{ exitCode: 0 }`), 'last-line' (the last stdout line, parsed
     * as JSON), or 'file' (the JSON the program wrote to the path in $VIGIL_RESULT_FILE).
     */
    result?: 'exit' | 'last-line' | 'file';
}
export interface ResolvedOptions {
    name: string;
    kind: 'function' | 'command';
    isolation: Isolation;
    timeoutMs: number;
    graceMs: number;
    heartbeatMs: number | null;
    silenceMs: number | null;
    deadlineMs: number | null;
    retry: RetryPolicy;
    memoryMb: number | null;
    concurrency: number | null;
}
export interface FunctionTask<I = Json, O = Json> {
    readonly __vigilTask: true;
    readonly options: ResolvedOptions;
    run(input: I, ctx: TaskContext): O | Promise<O>;
    readonly command?: undefined;
    /** Phantom field carrying the input/output types for `spawn` and `submit`. */
    readonly __types?: {
        input: I;
        output: O;
    };
}
export interface CommandTask<I = Json> {
    readonly __vigilTask: true;
    readonly options: ResolvedOptions;
    readonly run?: undefined;
    command(input: I): string[];
    readonly cwd: string | undefined;
    readonly env: Record<string, string> | undefined;
    stdin: StdinOption | ((input: I) => StdinOption);
    readonly result: 'exit' | 'last-line' | 'file';
    readonly __types?: {
        input: I;
        output: Json;
    };
}
export type TaskDefinition<I = unknown, O = unknown> = FunctionTask<I, O> | CommandTask<I>;
export interface ExecOptions {
    cwd?: string;
    env?: Record<string, string>;
    stdin?: StdinOption;
    /** Defaults to the rest of the attempt's timeout. */
    timeout?: Duration;
    /** Throw when the program exits non-zero (default true). */
    check?: boolean;
}
export interface ExecResult {
    exitCode: number | null;
    signal: string | null;
    /** The last 64 KiB of each stream; everything also goes to the job's log. */
    stdout: string;
    stderr: string;
}
/** A child job created by `ctx.spawn`; pass it to `ctx.all`. */
export interface ChildRef<O = Json> {
    readonly key: string;
    readonly task: string;
    readonly __output?: O;
}
export interface TaskContext {
    readonly jobId: string;
    readonly attempt: number;
    readonly task: string;
    /** Fires on timeout, stall, cancellation, deadline or shutdown: stop soon, the attempt is killed after `grace`. */
    readonly signal: AbortSignal;
    heartbeat(details?: Json): void;
    progress(value: number | {
        done: number;
        total: number;
    }, message?: string): void;
    log(...args: unknown[]): void;
    /** A durable child job keyed by (this job, key). Defaults the key to the call's index in this attempt. */
    spawn<I, O>(task: string | TaskDefinition<I, O>, input: I, options?: {
        key?: string;
    }): ChildRef<O>;
    /**
     * Waits for children, giving this job's concurrency slot back while it waits. Throws ChildrenFailedError
     * (kind `children`) when the policy fails.
     */
    all<O>(children: ReadonlyArray<ChildRef<O>>, options?: {
        policy?: ChildPolicy;
    }): Promise<ChildOutcome<O>[]>;
    /** Runs a program under the same supervision as a command task: its whole tree dies with this attempt. */
    exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
}
export declare const DEFAULTS: {
    readonly timeoutMs: number;
    readonly graceMs: 5000;
    readonly retries: 2;
    readonly backoffMs: 1000;
    readonly factor: 2;
    readonly maxDelayMs: number;
    readonly jitter: 0.2;
};
export declare function defineTask<I = Json, O = Json>(options: FunctionTaskOptions<I, O>): FunctionTask<I, O>;
export declare function defineTask<I = Json>(options: CommandTaskOptions<I>): CommandTask<I>;
export declare function isTaskDefinition(value: unknown): value is TaskDefinition;
export {};
