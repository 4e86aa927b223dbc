import { startedProcesses } from './roots.js';
import { fork, type ChildProcess } from 'node:child_process';
import type { HangReport } from '../types.js';
import { Lifecycle } from './attempt-base.js';
import { hostEvents } from './events.js';
import { DIRECT_END_FD, Outbox, type DirectEnd, type HostInbound, type HostOutbound } from './ipc.js';
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
   * start): idle ones, and ones started by `grow` that are not ready yet. Busy ones are `attempts`. An attempt is sent
   * here only for an idle thread, so the host never starts a thread the executor did not decide on.
   */
  private readonly idle = new Map<Limit, number>();
  private readonly starting = new Map<Limit, number>();
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
    });
    this.pid = this.child.pid ?? -1;
    hostEvents.publish({ event: 'forked', executor: 'thread', pid: this.pid });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      const lines = new LineSplitter(textLines((line) => onOutput(line, this.pid)));
      stream?.on('data', (chunk: Buffer) => lines.write(chunk));
      stream?.on('end', () => lines.end());
    }
    this.direct = this.child.stdio[DIRECT_END_FD] as NodeJS.ReadableStream | null;
    this.direct?.on('data', (chunk: Buffer) => this.onDirect(chunk));
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

  /** The host's direct-end pipe (DIRECT_END_FD) and the unfinished line read from it. */
  private readonly direct: NodeJS.ReadableStream | null;
  private directCarry = '';

  /**
   * Ends written by the host's threads themselves (one JSON line each, each line one atomic write: lines of different
   * threads never interleave). Each is handled as the host's own `end` message.
   */
  private onDirect(chunk: Buffer): void {
    let text = this.directCarry + chunk.toString('utf8');
    let nl = text.indexOf('\n');
    if (nl === -1) {
      this.directCarry = text;
      return;
    }
    while (nl !== -1) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      let message: DirectEnd | undefined;
      try {
        message = JSON.parse(line) as DirectEnd;
      } catch {
        // Not written by a thread of ours (nothing else writes there); ignored rather than trusted.
      }
      if (message?.type === 'end') {
        this.directEnds += 1;
        this.onMessage(message);
      }
      nl = text.indexOf('\n');
    }
    this.directCarry = text;
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
    return this.idle.get(memoryMb) ?? 0;
  }

  startingFor(memoryMb: Limit): number {
    return this.starting.get(memoryMb) ?? 0;
  }

  /** An idle thread's memory limit other than `memoryMb` (one that may be retired to make room), if any. */
  idleOtherThan(memoryMb: Limit): Limit | undefined {
    for (const [limit, n] of this.idle) if (n > 0 && limit !== memoryMb) return limit;
    return undefined;
  }

  /** Runs `attempt` on one of this host's idle threads (the caller checked idleFor). */
  run(attempt: ThreadAttempt): void {
    this.count(this.idle, attempt.spec.memoryMb, -1);
    this.add(attempt);
    this.send({ type: 'start', spec: attempt.spec });
  }

  /** Starts a thread for waiting attempts, loading `tasksModule`; `retire`: an idle thread's limit to stop first. */
  grow(memoryMb: Limit, tasksModule: string | null, retire?: Limit): void {
    this.holdOpen();
    if (retire !== undefined) this.count(this.idle, retire, -1);
    this.count(this.starting, memoryMb, 1);
    this.send(retire === undefined ? { type: 'grow', memoryMb, tasksModule } : { type: 'grow', memoryMb, tasksModule, retire });
  }

  private count(map: Map<Limit, number>, limit: Limit, delta: number): void {
    const n = (map.get(limit) ?? 0) + delta;
    // A host may report a thread gone that the mirror already handed out (the race in thread-host.ts start()).
    if (n < 0) return;
    if (n === 0) map.delete(limit);
    else map.set(limit, n);
    if (map === this.idle) this.idleCount += delta;
    else this.startingCount += delta;
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
  capture(key: string, budgetMs: number): Promise<HangReport['where'] | null> {
    if (!this.alive) return Promise.resolve(null);
    const id = this.nextCaptureId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answerCapture(id, null), budgetMs + CAPTURE_SLACK_MS);
      timer.unref();
      this.captures.set(id, (where) => {
        clearTimeout(timer);
        resolve(where);
      });
      this.send({ type: 'capture', key, id, budgetMs });
    });
  }

  /** Captures waiting for the host's answer (tests read it). */
  get pendingCaptures(): number {
    return this.captures.size;
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
        this.count(this.starting, message.memoryMb, -1);
        if (message.end === undefined) {
          this.everReady = true;
          this.count(this.idle, message.memoryMb, 1);
        }
        this.maybeIdle();
        return this.events.onThreads(message.end === undefined ? null : { memoryMb: message.memoryMb, end: message.end });
      case 'thread-gone':
        if (!this.alive) return;
        // The thread's last attempt ended directly and its end has not come yet: when it comes, the thread is not
        // counted idle again (its ends and this message travel on different pipes).
        if (message.after !== undefined && this.attempts.has(message.after)) this.goneBeforeEnd.add(message.after);
        else this.count(this.idle, message.memoryMb, -1);
        return this.events.onThreads(null);
      case 'end': {
        const attempt = this.attempts.get(message.key);
        if (!attempt) return;
        this.events.onRan(message.ranMs);
        attempt.onMessage(message);
        if (this.goneBeforeEnd.delete(message.key)) return this.events.onThreads(null);
        if (!message.reusable || !this.alive) return;
        this.count(this.idle, attempt.spec.memoryMb, 1);
        return this.events.onThreads(null);
      }
      default:
        this.attempts.get(message.key)?.onMessage(message);
    }
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
