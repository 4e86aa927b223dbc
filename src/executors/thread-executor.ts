import { fork, type ChildProcess } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import { VigilError } from '../errors.js';
import { serializeError } from '../task/serialize.js';
import type { HangReport, SerializedError } from '../types.js';
import { LineSplitter, type HostInbound, type HostOutbound } from './ipc.js';
import { entryPath, forkExecArgv } from './node-entry.js';
import { relay } from './relay.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, Executor, RunningAttempt } from './types.js';

/** Executor host lifecycle for the metrics (src/ops/metrics.ts); publishing costs nothing without a subscriber. */
export const hostEvents = channel('vigil:executor-host');

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

/**
 * While a hang capture runs, an abort waits (at most this long): the abort would move the code away from where it
 * hung. A thread that can react to an abort answers the capture within tens of ms; one that has not answered in this
 * long sits in a system call and can not react to an abort anyway.
 */
export const ABORT_HOLD_MS = 300;

/** After SIGKILL, how long to wait for the host's exit event before its attempts are resolved anyway. */
const EXIT_WAIT_MS = 150;

export class ThreadExecutor implements Executor {
  private readonly threadsPerHost: number;
  private readonly killBoundMs: number;
  private readonly hostIdleMs: number;
  private readonly onHostOutput: (line: string, hostPid: number) => void;
  private readonly hosts = new Set<Host>();
  private readonly attempts = new Map<string, ThreadAttempt>();
  private closed = false;
  /** Hosts forked so far (tests and metrics read it). */
  hostsStarted = 0;

  constructor(options: ThreadExecutorOptions = {}) {
    this.threadsPerHost = positiveInt(options.threadsPerHost, 'threadsPerHost', 4);
    this.killBoundMs = positiveInt(options.killBoundMs, 'killBoundMs', 250);
    this.hostIdleMs = positiveInt(options.hostIdleMs, 'hostIdleMs', 30_000);
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

  private pickHost(): Host {
    for (const host of this.hosts) {
      if (host.usable && host.attempts.size < this.threadsPerHost) return host;
    }
    this.hostsStarted += 1;
    const host: Host = new Host(this.threadsPerHost, this.onHostOutput, (): ReturnType<typeof setTimeout> | null => this.hostIdle(host), () => this.hosts.delete(host));
    this.hosts.add(host);
    return host;
  }

  /** Keeps one host warm; the others go away after hostIdleMs without attempts. */
  private hostIdle(host: Host): ReturnType<typeof setTimeout> | null {
    const warm = [...this.hosts].filter((h) => h.usable);
    if (warm.length <= 1) return null;
    const timer = setTimeout(() => {
      if (host.attempts.size === 0 && [...this.hosts].filter((h) => h.usable).length > 1) void host.destroy();
    }, this.hostIdleMs);
    timer.unref();
    return timer;
  }
}

class Host {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly attempts = new Map<string, ThreadAttempt>();
  alive = true;
  /** False once the host is being killed: no new attempts go to it. */
  usable = true;
  /** Attempts this host is being killed for: they end `killed`, the others `died` collaterally. */
  private readonly killTargets = new Set<ThreadAttempt>();
  private destroying = false;
  readonly exited: Promise<void>;
  private resolveExited!: () => void;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private nextCaptureId = 1;
  private readonly captures = new Map<number, (where: HangReport['where'] | null) => void>();

  constructor(
    threadsPerHost: number,
    onOutput: (line: string, hostPid: number) => void,
    private readonly onIdle: () => ReturnType<typeof setTimeout> | null,
    private readonly onGone: () => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.child = fork(entryPath('thread-host'), [String(threadsPerHost)], {
      execArgv: forkExecArgv(),
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.pid = this.child.pid ?? -1;
    hostEvents.publish({ event: 'forked', executor: 'thread', pid: this.pid });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      const lines = new LineSplitter((line) => onOutput(line, this.pid));
      stream?.on('data', (chunk: Buffer) => lines.write(chunk));
      stream?.on('end', () => lines.flush());
    }
    this.child.on('message', (message: HostOutbound) => this.onMessage(message));
    this.child.on('exit', (code, signal) => this.onExit(`exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
    this.child.on('error', (err) => {
      // Fork failed, or the IPC channel broke: the host is useless either way.
      onOutput(`executor host error: ${err.message}`, this.pid);
      if (this.child.pid === undefined) this.onExit(`could not start: ${err.message}`);
      else this.sigkill();
    });
  }

  send(message: HostInbound): void {
    if (!this.alive || !this.child.connected) return;
    try {
      this.child.send(message);
    } catch {
      // The channel closed under us: the exit handler resolves the attempts.
    }
  }

  add(attempt: ThreadAttempt): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.attempts.size === 0) this.ref(true);
    this.attempts.set(attempt.spec.key, attempt);
  }

  remove(attempt: ThreadAttempt): void {
    if (this.attempts.get(attempt.spec.key) !== attempt) return;
    this.attempts.delete(attempt.spec.key);
    if (this.attempts.size === 0 && this.alive) {
      // An idle host must not keep the supervisor's process alive.
      this.ref(false);
      this.idleTimer = this.onIdle();
    }
  }

  /** Asks for a thread stack; resolves with the host's answer, or null if the host is gone. */
  capture(key: string, budgetMs: number): Promise<HangReport['where'] | null> {
    if (!this.alive) return Promise.resolve(null);
    const id = this.nextCaptureId++;
    return new Promise((resolve) => {
      this.captures.set(id, resolve);
      this.send({ type: 'capture', key, id, budgetMs });
    });
  }

  dropCapture(id: number): void {
    this.captures.delete(id);
  }

  /** Kill one attempt: terminate its thread, and if that does not work within the bound, SIGKILL the host. */
  async killAttempt(attempt: ThreadAttempt, boundMs: number): Promise<void> {
    this.send({ type: 'kill', key: attempt.spec.key });
    attempt.killExecGroups();
    if (await settlesWithin(attempt.done, boundMs)) return;
    // The thread could not be terminated (blocked in a syscall or native code): only SIGKILL of its host ends it.
    this.killTargets.add(attempt);
    this.sigkill();
    await settlesWithin(this.exited, EXIT_WAIT_MS);
    if (this.alive) this.onExit('was SIGKILLed and did not report its exit');
  }

  /** Kills the host and everything it runs (close, idle retirement). */
  async destroy(): Promise<void> {
    this.destroying = true;
    for (const attempt of this.attempts.values()) this.killTargets.add(attempt);
    if (this.alive) this.sigkill();
    await settlesWithin(this.exited, 2_000);
    if (this.alive) this.onExit('was SIGKILLed and did not report its exit');
  }

  private sigkill(): void {
    if (this.usable) hostEvents.publish({ event: 'killed', executor: 'thread', pid: this.pid });
    this.usable = false;
    try {
      this.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private ref(on: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stdout, this.child.stderr] as Array<{ ref?(): void; unref?(): void } | null | undefined>;
    for (const handle of handles) (on ? handle?.ref : handle?.unref)?.call(handle);
  }

  private onMessage(message: HostOutbound): void {
    if (message.type === 'captured') {
      const resolve = this.captures.get(message.id);
      this.captures.delete(message.id);
      resolve?.(message.where);
      return;
    }
    this.attempts.get(message.key)?.onMessage(message);
  }

  private onExit(how: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.usable = false;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.onGone();
    const collateral = this.killTargets.size > 0;
    for (const attempt of [...this.attempts.values()]) {
      if (this.killTargets.has(attempt)) {
        attempt.finish({ type: 'killed' });
      } else if (collateral) {
        attempt.finish({
          type: 'died',
          collateral: true,
          message: `the executor host (pid ${this.pid}) was killed to stop another attempt that could not be terminated; this attempt was lost with it`,
        });
      } else {
        attempt.finish({
          type: 'died',
          collateral: false,
          message: `the executor host process (pid ${this.pid}) running this attempt ${how}${this.destroying ? ' (executor closed)' : ''}`,
        });
      }
    }
    for (const resolve of this.captures.values()) resolve(null);
    this.captures.clear();
    this.resolveExited();
  }
}

class ThreadAttempt implements RunningAttempt {
  readonly done: Promise<AttemptEnd>;
  private resolveDone!: (end: AttemptEnd) => void;
  private ended = false;
  private killing: Promise<void> | null = null;
  private readonly execPids = new Set<number>();
  private capturing: Promise<unknown> | null = null;

  constructor(
    readonly spec: AttemptSpec,
    private readonly channel: AttemptChannel,
    private readonly host: Host,
    private readonly killBoundMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  abort(reason: string): void {
    if (this.ended) return;
    const send = (): void => {
      if (!this.ended) this.host.send({ type: 'abort', key: this.spec.key, reason });
    };
    // The engine aborts while the capture runs: an abort handler running in the thread would be the stack we catch.
    if (this.capturing) void settlesWithin(this.capturing, ABORT_HOLD_MS).then(send);
    else send();
  }

  kill(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.killing ??= this.host.killAttempt(this, this.killBoundMs);
    return this.killing;
  }

  async captureHang(budgetMs: number): Promise<HangReport['where']> {
    if (this.ended) return { notes: ['the attempt had already ended when its hang was captured'] };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<HangReport['where']>((resolve) => {
      timer = setTimeout(() => resolve({ notes: [`capture did not answer within ${budgetMs} ms`] }), budgetMs);
    });
    const answer = this.host.capture(this.spec.key, budgetMs).then(
      (where) => where ?? { notes: ['the executor host went away during the capture'] },
      (err: unknown) => ({ notes: [`capture failed: ${err instanceof Error ? err.message : String(err)}`] }),
    );
    this.capturing = answer;
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
      this.capturing = null;
    }
  }

  pids(): number[] {
    return [...this.execPids];
  }

  onMessage(message: Exclude<HostOutbound, { type: 'captured' }>): void {
    if (this.ended) return;
    const { channel } = this;
    try {
      if (message.type === 'end') {
            this.finish(message.end);
        return;
      }
      relay(message, channel, this.execPids, (id, call) => this.answer(id, call));
    } catch (err) {
      // A failing channel is an engine bug; it must not take the supervisor down with it.
      process.emitWarning(`vigil: attempt channel failed on "${message.type}" for ${this.spec.key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private answer(id: number, call: () => Promise<unknown>): void {
    const key = this.spec.key;
    Promise.resolve()
      .then(call)
      .then(
        (value) => {
          if (!this.ended) this.host.send({ type: 'reply', key, id, ok: true, value });
        },
        (err: unknown) => {
          if (!this.ended) this.host.send({ type: 'reply', key, id, ok: false, error: toSerialized(err) });
        },
      );
  }

  killExecGroups(): void {
    for (const pid of this.execPids) killGroup(pid);
  }

  finish(end: AttemptEnd): void {
    if (this.ended) return;
    this.ended = true;
    // Programs started by ctx.exec die with the attempt, however it ended.
    this.killExecGroups();
    this.host.remove(this);
    this.resolveDone(end);
  }
}

export function toSerialized(err: unknown): SerializedError {
  if (err && typeof err === 'object' && !(err instanceof Error) && typeof (err as SerializedError).message === 'string' && typeof (err as SerializedError).kind === 'string') {
    return err as SerializedError;
  }
  return serializeError(err);
}

export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** True when `promise` settled within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function positiveInt(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new VigilError('VIGIL_USAGE', `ThreadExecutor: option "${name}" must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}
