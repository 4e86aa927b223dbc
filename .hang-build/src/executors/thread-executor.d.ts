import type { SerializedError } from '../types.js';
import type { AttemptChannel, AttemptSpec, Executor, RunningAttempt } from './types.js';
/**
 * Isolation 'thread': attempts run in worker threads of executor host processes forked by this supervisor. Task
 * threads never live in the supervisor's process, because a thread blocked in a syscall (a FIFO read) or in long
 * native code (pbkdf2Sync) can not be terminated — only SIGKILL of its process ends it (DESIGN G1).
 */
export interface ThreadExecutorOptions {
    /** Threads per host process before another host is forked (default 4). */
    threadsPerHost?: number;
    /** How long a thread may take to terminate before its whole host is SIGKILLed (default 500 ms). */
    killBoundMs?: number;
    /** An idle host beyond the first is stopped after this long (default 30 s). */
    hostIdleMs?: number;
    /** Where a host's own output (not a task's) goes; default: this process's stderr. */
    onHostOutput?: (line: string, hostPid: number) => void;
}
export declare class ThreadExecutor implements Executor {
    private readonly threadsPerHost;
    private readonly killBoundMs;
    private readonly hostIdleMs;
    private readonly onHostOutput;
    private readonly hosts;
    private readonly attempts;
    private closed;
    /** Hosts forked so far (tests and metrics read it). */
    hostsStarted: number;
    constructor(options?: ThreadExecutorOptions);
    start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt;
    /** Pids of the live host processes. */
    hostPids(): number[];
    close(): Promise<void>;
    private pickHost;
    /** Keeps one host warm; the others go away after hostIdleMs without attempts. */
    private hostIdle;
}
export declare function toSerialized(err: unknown): SerializedError;
export declare function killGroup(pid: number): void;
/** True when `promise` settled within `ms`. */
export declare function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean>;
