import { startedProcesses } from './roots.js';
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { HangReport } from '../types.js';
import { Lifecycle, type ToRunner } from './attempt-base.js';
import { hostEvents } from './events.js';
import { DIRECT_END_FD, DIRECT_IN_ENV, jsonLines, KEY_MAX_UNITS, Outbox, type DirectEnd, type DirectInMessage, type HostInbound, type HostOutbound } from './ipc.js';
import { killGroup, settlesWithin } from './kill.js';
import { textLines, LineSplitter } from './line-splitter.js';
import { entryPath, forkExecArgv } from './node-entry.js';
import type { ThreadAttempt } from './thread-attempt.js';
import type { AttemptEnd } from './types.js';

/**
 * The supervisor's handle on one executor host process (thread-host.ts runs inside it): forks it, routes its
 * messages to the attempts it runs, and kills it — for one attempt whose thread can not be terminated (the others
 * die collaterally), or all of it.
 */

/** After SIGKILL, how long to wait for the host's exit event before its attempts are resolved anyway. */
const EXIT_WAIT_MS = 150;
/** A capture the host has not answered this long after its budget is given up (the attempt's own race ended long before). */
const CAPTURE_SLACK_MS = 1_000;

/**
 *   serving → killing  SIGKILL sent: an attempt whose thread could not be terminated, a broken channel, or the
 *                      executor closing (`closing`) or retiring an idle host
 *   killing → gone     its exit was seen, or did not come within the bound
 *   serving → gone     it exited by itself (crash, OOM killer)
 */
type HostState = { name: 'serving' } | { name: 'killing'; closing: boolean } | { name: 'gone' };

const HOST_NEXT = {
  serving: ['killing', 'gone'],
  // A second reason to kill (close during an attempt's kill) only adds `closing`.
  killing: ['killing', 'gone'],
  gone: [],
} as const satisfies { [K in HostState['name']]: ReadonlyArray<HostState['name']> };

/** What the executor hears from a host about its threads. */
export interface HostEvents {
  /** No attempt runs here any more: the executor may arm a timer that retires the host. */
  onIdle(): ReturnType<typeof setTimeout> | null;
  /** The host is gone; `neverUp` threads were starting in a host that never came up (`why`: a message for them). */
  onGone(neverUp: number, why: string): void;
  /**
   * A thread became idle or went away (the executor gives waiting attempts their threads in the same turn).
   * `failed`: a thread started for waiting attempts could not start, and how (the attempt waiting for it ends so).
   */
  onThreads(failed: { memoryMb: number | null; end: AttemptEnd } | null): void;
  /** An attempt held its thread for `ms`. */
  onRan(ms: number): void;
}

type Limit = number | null;

export class HostProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly attempts = new Map<string, ThreadAttempt>();
  private readonly life = new Lifecycle<HostState>(HOST_NEXT, { name: 'serving' });
  /** Attempts this host is being killed for: they end `killed`, the others `died` collaterally. */
  private readonly killTargets = new Set<ThreadAttempt>();
  readonly exited: Promise<void>;
  private resolveExited!: () => void;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private nextCaptureId = 1;
  private readonly captures = new Map<number, (where: HangReport['where'] | null) => void>();
  private readonly outbox = new Outbox<HostInbound>((batch) => this.write(batch));
  /**
   * The supervisor's mirror of this host's threads, by memory limit (a thread's resourceLimits are fixed at its
   * start): idle ones (by the host's thread id), and ones started by `grow` that are not ready yet. Busy ones are
   * `attempts`. An attempt is sent here only for an idle thread, named, so the host never starts a thread the executor
   * did not decide on, and never gives a thread an attempt that was sent to it directly.
   */
  private readonly idle = new Map<Limit, Set<number>>();
  private readonly starting = new Map<Limit, number>();
  /** Threads' DIRECT_IN sockets (ipc.ts), by thread id, once they said hello. */
  private readonly sockets = new Map<number, Socket>();
  /** Attempts sent to their thread directly, by thread id, until they end (see `thread-gone`). */
  private readonly directRuns = new Map<number, ThreadAttempt>();
  /** Attempts given to each thread so far, however sent: the seq the thread and host count too (ipc.ts SLOT_STATE). */
  private readonly threadSeqs = new Map<number, number>();
  /** Attempts started on their thread directly (tests and benches read it). */
  directStarts = 0;
  private startingCount = 0;
  private idleCount = 0;
  /** Attempts whose thread was reported gone before their direct end arrived (see `thread-gone`'s `after`). */
  private readonly goneBeforeEnd = new Set<string>();
  /** Attempts whose end came straight from their thread (DIRECT_END_FD; tests and benches read it). */
  directEnds = 0;
  /** Threads the host created in its life, as it last reported (tests and benches read it). */
  threadsCreated = 0;
  /** Whether any thread of this host has become ready (a host that dies before that never came up). */
  everReady = false;

  constructor(
    threadsPerHost: number,
    onOutput: (line: string, hostPid: number) => void,
    private readonly events: HostEvents,
    directIn: string | null = null,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    startedProcesses.beforeStart();
    this.child = fork(entryPath('thread-host'), [String(threadsPerHost), 'direct'], {
      execArgv: forkExecArgv(),
      // Its own process group: programs its tasks start with plain child_process stay in it, so killing the group
      // when the host is gone kills them too, even after they were re-parented (DESIGN G1).
      detached: true,
      serialization: 'json',
      // fd DIRECT_END_FD: the pipe on which the host's threads report quiet attempts' ends directly (ipc.ts).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
      // Where its threads connect for direct starts (the host removes it from its environment before any task runs).
      ...(directIn === null ? {} : { env: { ...process.env, [DIRECT_IN_ENV]: directIn } }),
    });
    this.pid = this.child.pid ?? -1;
    hostEvents.publish({ event: 'forked', executor: 'thread', pid: this.pid });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      const lines = new LineSplitter(textLines((line) => onOutput(line, this.pid)));
      stream?.on('data', (chunk: Buffer) => lines.write(chunk));
      stream?.on('end', () => lines.end());
    }
    this.direct = this.child.stdio[DIRECT_END_FD] as NodeJS.ReadableStream | null;
    this.direct?.on('data', jsonLines<DirectEnd>((message) => this.onDirect(message)));
    this.child.on('message', (batch: HostOutbound[]) => {
      for (const message of batch) this.onMessage(message);
    });
    this.child.on('exit', (code, signal) => this.onExit(`exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
    this.child.on('error', (err) => {
      // Fork failed, or the IPC channel broke: the host is useless either way.
      onOutput(`executor host error: ${err.message}`, this.pid);
      if (this.child.pid === undefined) this.onExit(`could not start: ${err.message}`);
      else this.sigkill();
    });
  }

  /** The host's direct-end pipe (DIRECT_END_FD). */
  private readonly direct: NodeJS.ReadableStream | null;

  /**
   * Ends written by the host's threads themselves (one JSON line each, each line one atomic write: lines of different
   * threads never interleave). Each is handled as the host's own `end` message.
   */
  private onDirect(message: DirectEnd): void {
    if (message?.type !== 'end') return;
    this.directEnds += 1;
    this.onMessage(message);
  }

  /** Until its exit was seen (or given up on). */
  get alive(): boolean {
    return !this.life.is('gone');
  }

  /** New attempts go only to a host that is not being killed. */
  get usable(): boolean {
    return this.life.is('serving');
  }

  send(message: HostInbound): void {
    if (this.alive) this.outbox.push(message);
  }

  private write(batch: HostInbound[]): void {
    if (!this.alive || !this.child.connected) return;
    try {
      this.child.send(batch);
    } catch {
      // The channel closed under us: the exit handler resolves the attempts.
    }
  }

  /** Threads alive or starting here, busy or not. */
  get threads(): number {
    return this.idleCount + this.startingCount + this.attempts.size;
  }

  /** Threads started by `grow` that are not ready yet. */
  get threadsStarting(): number {
    return this.startingCount;
  }

  idleFor(memoryMb: Limit): number {
    return this.idle.get(memoryMb)?.size ?? 0;
  }

  startingFor(memoryMb: Limit): number {
    return this.starting.get(memoryMb) ?? 0;
  }

  /** An idle thread's memory limit other than `memoryMb` (one that may be retired to make room), if any. */
  idleOtherThan(memoryMb: Limit): Limit | undefined {
    for (const [limit, threads] of this.idle) if (threads.size > 0 && limit !== memoryMb) return limit;
    return undefined;
  }

  /**
   * Runs `attempt` on one of this host's idle threads (the caller checked idleFor): straight to the thread on its
   * DIRECT_IN socket when it has one, else through the host, naming the thread either way.
   */
  run(attempt: ThreadAttempt): void {
    const limit = attempt.spec.memoryMb;
    const thread = this.idleThread(limit, true, true)!;
    this.takeIdle(limit, thread);
    attempt.thread = thread;
    attempt.seq = (this.threadSeqs.get(thread) ?? 0) + 1;
    this.threadSeqs.set(thread, attempt.seq);
    this.add(attempt);
    const socket = this.sockets.get(thread);
    if (socket && attempt.spec.key.length <= KEY_MAX_UNITS && this.writeDirect(socket, { type: 'run', spec: attempt.spec })) {
      this.directRuns.set(thread, attempt);
      this.directStarts += 1;
      return;
    }
    this.send({ type: 'start', spec: attempt.spec, slot: thread });
  }

  /** An abort goes the way its attempt's start went (after it, on the same channel); replies through the host. */
  post(attempt: ThreadAttempt, message: ToRunner): void {
    if (message.type === 'abort') {
      const socket = this.directRuns.get(attempt.thread) === attempt ? this.sockets.get(attempt.thread) : undefined;
      if (socket && this.writeDirect(socket, message)) return;
      this.send({ ...message, slot: attempt.thread });
      return;
    }
    this.send(message);
  }

  private writeDirect(socket: Socket, message: DirectInMessage): boolean {
    if (!socket.writable) return false;
    // A write error closes the socket; the host then reports what became of the thread and its attempt.
    socket.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  /** A thread of this host connected for direct starts (direct-in.ts); false when it is not one of ours. */
  attachThread(thread: number, socket: Socket): boolean {
    if (!this.alive || this.sockets.has(thread)) return false;
    this.sockets.set(thread, socket);
    socket.on('close', () => {
      if (this.sockets.get(thread) === socket) this.sockets.delete(thread);
    });
    return true;
  }

  /** Starts a thread for waiting attempts, loading `tasksModule`; `retire`: an idle thread's limit to stop first. */
  grow(memoryMb: Limit, tasksModule: string | null, retire?: Limit): void {
    this.holdOpen();
    // The thread to retire: one without a socket if any (the ones with a socket are the cheaper ones to run on).
    const retired = retire === undefined ? undefined : this.idleThread(retire, false, false);
    if (retired !== undefined) this.takeIdle(retire!, retired);
    this.countStarting(memoryMb, 1);
    this.send(retired === undefined ? { type: 'grow', memoryMb, tasksModule } : { type: 'grow', memoryMb, tasksModule, retire: retired });
  }

  /**
   * An idle thread of `limit`, one with (or without) a DIRECT_IN socket when there is such a one. `newest`: the one
   * that went idle last (an attempt starts on the thread that just ran one: its CPU is likely awake and its caches
   * warm — the enqueue→start tail of bench/NOTES.md); otherwise the one idle longest (the one to retire).
   */
  private idleThread(limit: Limit, withSocket: boolean, newest: boolean): number | undefined {
    let thread: number | undefined;
    let matched = false;
    // Idle sets are in the order threads went idle, and hold at most threadsPerHost.
    for (const id of this.idle.get(limit) ?? []) {
      const match = this.sockets.has(id) === withSocket;
      if (match && !newest) return id;
      if (match || !matched) thread = id;
      matched ||= match;
    }
    return thread;
  }

  private addIdle(limit: Limit, thread: number): void {
    let threads = this.idle.get(limit);
    if (!threads) this.idle.set(limit, (threads = new Set()));
    if (threads.has(thread)) return;
    threads.add(thread);
    this.idleCount += 1;
  }

  private takeIdle(limit: Limit, thread: number): void {
    const threads = this.idle.get(limit);
    if (!threads?.delete(thread)) return;
    if (threads.size === 0) this.idle.delete(limit);
    this.idleCount -= 1;
  }

  private countStarting(limit: Limit, delta: number): void {
    const n = (this.starting.get(limit) ?? 0) + delta;
    if (n < 0) return;
    if (n === 0) this.starting.delete(limit);
    else this.starting.set(limit, n);
    this.startingCount += delta;
  }

  private add(attempt: ThreadAttempt): void {
    this.holdOpen();
    this.attempts.set(attempt.spec.key, attempt);
  }

  /** Work is going on here: no retirement, and the host keeps the supervisor's process alive. */
  private holdOpen(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.attempts.size === 0 && this.startingCount === 0) this.ref(true);
  }

  remove(attempt: ThreadAttempt): void {
    if (this.attempts.get(attempt.spec.key) !== attempt) return;
    this.attempts.delete(attempt.spec.key);
    if (this.directRuns.get(attempt.thread) === attempt) this.directRuns.delete(attempt.thread);
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.attempts.size === 0 && this.startingCount === 0 && this.alive) {
      // An idle host must not keep the supervisor's process alive.
      this.ref(false);
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = this.events.onIdle();
    }
  }

  /**
   * Asks for a thread stack; resolves with the host's answer, or null if the host is gone or has not answered well
   * after the budget (the entry is dropped then: a host that never answers must not grow this map).
   */
  capture(attempt: ThreadAttempt, budgetMs: number): Promise<HangReport['where'] | null> {
    if (!this.alive) return Promise.resolve(null);
    const id = this.nextCaptureId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answerCapture(id, null), budgetMs + CAPTURE_SLACK_MS);
      timer.unref();
      this.captures.set(id, (where) => {
        clearTimeout(timer);
        resolve(where);
      });
      this.send({ type: 'capture', key: attempt.spec.key, id, budgetMs, slot: attempt.thread });
    });
  }

  /** Captures waiting for the host's answer (tests read it). */
  get pendingCaptures(): number {
    return this.captures.size;
  }

  /** Kill one attempt: terminate its thread, and if that does not work within the bound, SIGKILL the host. */
  async killAttempt(attempt: ThreadAttempt, boundMs: number): Promise<void> {
    this.send({ type: 'kill', key: attempt.spec.key, slot: attempt.thread, seq: attempt.seq });
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
    for (const attempt of this.attempts.values()) this.killTargets.add(attempt);
    if (this.alive) this.sigkill(true);
    await settlesWithin(this.exited, 2_000);
    if (this.alive) this.onExit('was SIGKILLed and did not report its exit');
  }

  private sigkill(closing = false): void {
    const state = this.life.state;
    if (state.name === 'serving') hostEvents.publish({ event: 'killed', executor: 'thread', pid: this.pid });
    this.life.to({ name: 'killing', closing: closing || (state.name === 'killing' && state.closing) });
    try {
      this.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private ref(on: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stdout, this.child.stderr, this.direct] as Array<{ ref?(): void; unref?(): void } | null | undefined>;
    for (const handle of handles) (on ? handle?.ref : handle?.unref)?.call(handle);
  }

  private onMessage(message: HostOutbound): void {
    switch (message.type) {
      case 'captured':
        return this.answerCapture(message.id, message.where);
      case 'ready':
        if (!this.alive) return;
        this.threadsCreated = Math.max(this.threadsCreated, message.created);
        this.countStarting(message.memoryMb, -1);
        if (message.end === undefined) {
          this.everReady = true;
          this.addIdle(message.memoryMb, message.slot);
        }
        this.maybeIdle();
        return this.events.onThreads(message.end === undefined ? null : { memoryMb: message.memoryMb, end: message.end });
      case 'thread-gone':
        if (!this.alive) return;
        // The thread's last attempt ended directly and its end has not come yet: when it comes, the thread is not
        // counted idle again (its ends and this message travel on different pipes).
        if (message.after !== undefined && this.attempts.has(message.after)) this.goneBeforeEnd.add(message.after);
        else this.takeIdle(message.memoryMb, message.slot);
        this.lostBeforeStart(message.slot, message.after);
        this.threadSeqs.delete(message.slot);
        return this.events.onThreads(null);
      case 'end': {
        const attempt = this.attempts.get(message.key);
        if (!attempt) return;
        this.events.onRan(message.ranMs);
        attempt.onMessage(message);
        if (this.goneBeforeEnd.delete(message.key)) return this.events.onThreads(null);
        // A thread not reusable is going away: its count goes with it (its socket closes by itself).
        if (!message.reusable) this.threadSeqs.delete(message.slot);
        if (!message.reusable || !this.alive) return;
        this.addIdle(attempt.spec.memoryMb, message.slot);
        return this.events.onThreads(null);
      }
      default:
        this.attempts.get(message.key)?.onMessage(message);
    }
  }

  /**
   * A thread went away with an attempt sent to it directly that it had not started (`after`, the attempt it ran last,
   * is another one): nobody else will report that attempt, which never ran.
   */
  private lostBeforeStart(thread: number, after: string | undefined): void {
    const attempt = this.directRuns.get(thread);
    if (!attempt || attempt.spec.key === after) return;
    this.directRuns.delete(thread);
    attempt.finish({
      type: 'died',
      collateral: false,
      message: `the task thread (executor host pid ${this.pid}) it was sent to exited before it started the attempt; the attempt did not run`,
    });
  }

  private answerCapture(id: number, where: HangReport['where'] | null): void {
    const resolve = this.captures.get(id);
    this.captures.delete(id);
    resolve?.(where);
  }

  private onExit(how: string): void {
    const state = this.life.state;
    if (!this.life.to({ name: 'gone' })) return;
    killGroup(this.pid);
    startedProcesses.remove(this.pid);
    const closing = state.name === 'killing' && state.closing;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // A host that died before any thread of it was ready (it can not start: a broken install, fork limits) fails the
    // attempts waiting for it, as it failed the attempts it was given before threads were warmed; one that came up
    // and died later just has its threads started again elsewhere.
    const neverUp = this.everReady ? 0 : this.startingCount;
    this.idle.clear();
    this.starting.clear();
    this.directRuns.clear();
    for (const socket of this.sockets.values()) socket.destroy();
    this.sockets.clear();
    this.idleCount = this.startingCount = 0;
    this.events.onGone(neverUp, `the executor host process (pid ${this.pid}) ${how} before its threads started`);
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
          message: `the executor host process (pid ${this.pid}) running this attempt ${how}${closing ? ' (executor closed)' : ''}`,
        });
      }
    }
    for (const resolve of this.captures.values()) resolve(null);
    this.captures.clear();
    this.resolveExited();
  }
}
