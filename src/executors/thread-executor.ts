import { VigilError } from '../errors.js';
import { HostProcess } from './host-process.js';
export { hostEvents } from './events.js';
import { positiveInt } from './options.js';
import { ThreadAttempt } from './thread-attempt.js';
import type { AttemptChannel, AttemptSpec, Executor, RunningAttempt } from './types.js';

/**
 * Isolation 'thread': attempts run in worker threads of executor host processes forked by this supervisor. Task
 * threads never live in the supervisor's process, because a thread blocked in a syscall (a FIFO read) or in long
 * native code (pbkdf2Sync) can not be terminated — only SIGKILL of its process ends it (DESIGN G1).
 */

export interface ThreadExecutorOptions {
  /** Threads per host process before another host is forked (default 4). */
  threadsPerHost?: number;
  /** How long a thread may take to terminate before its whole host is SIGKILLed (default 250 ms). */
  killBoundMs?: number;
  /** An idle host beyond the first is stopped after this long (default 30 s). */
  hostIdleMs?: number;
  /** Where a host's own output (not a task's) goes; default: this process's stderr. */
  onHostOutput?: (line: string, hostPid: number) => void;
}

export class ThreadExecutor implements Executor {
  private readonly threadsPerHost: number;
  private readonly killBoundMs: number;
  private readonly hostIdleMs: number;
  private readonly onHostOutput: (line: string, hostPid: number) => void;
  private readonly hosts = new Set<HostProcess>();
  private readonly attempts = new Map<string, ThreadAttempt>();
  private closed = false;
  /** Hosts forked so far (tests and metrics read it). */
  hostsStarted = 0;

  constructor(options: ThreadExecutorOptions = {}) {
    this.threadsPerHost = positiveInt('ThreadExecutor', options.threadsPerHost, 'threadsPerHost', 4);
    this.killBoundMs = positiveInt('ThreadExecutor', options.killBoundMs, 'killBoundMs', 250);
    this.hostIdleMs = positiveInt('ThreadExecutor', options.hostIdleMs, 'hostIdleMs', 30_000);
    this.onHostOutput = options.onHostOutput ?? ((line, pid) => process.stderr.write(`[vigil executor host ${pid}] ${line}\n`));
  }

  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', 'the thread executor is closed; start a new worker to run attempts');
    if (this.attempts.has(spec.key)) throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
    const host = this.pickHost();
    const attempt = new ThreadAttempt(spec, channel, host, this.killBoundMs);
    this.attempts.set(spec.key, attempt);
    void attempt.done.then(() => this.attempts.delete(spec.key));
    host.add(attempt);
    host.send({ type: 'start', spec });
    return attempt;
  }

  /** Pids of the live host processes. */
  hostPids(): number[] {
    return [...this.hosts].filter((h) => h.alive).map((h) => h.pid);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.hosts].map((host) => host.destroy()));
  }

  private pickHost(): HostProcess {
    for (const host of this.hosts) {
      if (host.usable && host.attempts.size < this.threadsPerHost) return host;
    }
    this.hostsStarted += 1;
    const host: HostProcess = new HostProcess(this.threadsPerHost, this.onHostOutput, (): ReturnType<typeof setTimeout> | null => this.hostIdle(host), () => this.hosts.delete(host));
    this.hosts.add(host);
    return host;
  }

  /** Keeps one host warm; the others go away after hostIdleMs without attempts. */
  private hostIdle(host: HostProcess): ReturnType<typeof setTimeout> | null {
    const warm = [...this.hosts].filter((h) => h.usable);
    if (warm.length <= 1) return null;
    const timer = setTimeout(() => {
      if (host.attempts.size === 0 && [...this.hosts].filter((h) => h.usable).length > 1) void host.destroy();
    }, this.hostIdleMs);
    timer.unref();
    return timer;
  }
}
