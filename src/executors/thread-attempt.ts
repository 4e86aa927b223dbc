import type { HangReport } from '../types.js';
import { AttemptBase, Lifecycle, type ToRunner } from './attempt-base.js';
import type { HostOutbound } from './ipc.js';
import { killGroup } from './kill.js';
import type { HostProcess } from './host-process.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec } from './types.js';

/**
 * One attempt on a thread of a shared executor host, as the supervisor sees it.
 *   waiting  → running  (a thread became free for it: thread-executor.ts dispatches it to that thread's host)
 *   waiting  → ended    (abort, kill or close before it got a thread: it ends `killed` and never runs)
 *   running  → killing  (kill(): terminate the thread, SIGKILL the host if that does not work) → ended
 *   running  → ended    (the runner reported its end, or the host died)
 */
type ThreadState = { name: 'waiting' } | { name: 'running'; host: HostProcess } | { name: 'killing'; host: HostProcess; done: Promise<void> } | { name: 'ended' };

const THREAD_NEXT = {
  waiting: ['running', 'ended'],
  running: ['killing', 'ended'],
  killing: ['ended'],
  ended: [],
} as const satisfies { [K in ThreadState['name']]: ReadonlyArray<ThreadState['name']> };

/**
 * What an attempt needs from its executor: leaving the queue, what to say about the wait, and telling it that its
 * thread is parked (awaiting children) or working again.
 */
export interface ThreadQueue {
  withdraw(attempt: ThreadAttempt): void;
  describeWait(attempt: ThreadAttempt): string;
  parkedChanged(attempt: ThreadAttempt): void;
}

export class ThreadAttempt extends AttemptBase {
  private readonly life = new Lifecycle<ThreadState>(THREAD_NEXT, { name: 'waiting' });

  constructor(
    spec: AttemptSpec,
    channel: AttemptChannel,
    private readonly queue: ThreadQueue,
    private readonly killBoundMs: number,
  ) {
    super(spec, channel);
  }

  protected get over(): boolean {
    return this.life.is('ended');
  }

  get waiting(): boolean {
    return this.life.is('waiting');
  }

  /** Its host, once it has a thread. */
  get host(): HostProcess | null {
    const state = this.life.state;
    return state.name === 'running' || state.name === 'killing' ? state.host : null;
  }

  /** When it got its thread (performance.now()). */
  assignedAt = 0;
  /** Its host's id of the thread it runs on (ipc.ts HostInbound), once it has one, and the how-manyth attempt there. */
  thread = -1;
  seq = 0;

  /** A thread of `host` is free for it: the caller sends the start. */
  assign(host: HostProcess): boolean {
    this.assignedAt = performance.now();
    if (!this.life.to({ name: 'running', host })) return false;
    this.startClock();
    return true;
  }

  private clockOn = false;

  /** Queued behind other attempts' busy threads: no thread given to it nor started for it yet (RunningAttempt). */
  get queued(): boolean {
    return this.waiting && !this.clockOn;
  }

  /**
   * A thread is given to it, or started for it: the engine's clocks for it (timeout, heartbeat, silence) start now —
   * a thread's start counts, as it did when every attempt started its own thread; queueing behind other attempts'
   * busy threads does not.
   */
  startClock(): void {
    if (this.clockOn || this.over) return;
    this.clockOn = true;
    const endsAt = this.channel.clockStarts?.();
    if (endsAt !== undefined) this.spec.endsAt = endsAt;
  }

  /**
   * Ids of its ctx.all() requests not answered yet: while there is one, its thread is parked — it waits for children
   * that need threads of their own, as the engine lends its slot meanwhile (DESIGN G6) — and the executor does not
   * count it as a thread that will soon be free.
   */
  private readonly awaiting = new Set<number>();

  get parked(): boolean {
    return this.awaiting.size > 0;
  }

  protected post(message: ToRunner): void {
    if (message.type === 'reply' && this.awaiting.delete(message.id) && this.awaiting.size === 0) this.queue.parkedChanged(this);
    this.host?.post(this, message);
  }

  override abort(reason: string): void {
    // Every abort the engine sends is the start of a stop (timeout, cancel, shutdown, lost lease): an attempt that
    // has not reached a thread stops here, and its slot is free at once instead of after the grace.
    if (this.waiting) this.endWaiting();
    else super.abort(reason);
  }

  kill(): Promise<void> {
    const state = this.life.state;
    if (state.name === 'waiting') {
      this.endWaiting();
      return Promise.resolve();
    }
    if (state.name === 'killing') return state.done;
    if (state.name === 'ended') return Promise.resolve();
    const done = state.host.killAttempt(this, this.killBoundMs);
    this.life.to({ name: 'killing', host: state.host, done });
    return done;
  }

  /** Ends an attempt that never got a thread (kill, abort, executor closed). */
  endWaiting(): void {
    if (!this.waiting) return;
    this.queue.withdraw(this);
    this.life.to({ name: 'ended' });
    this.resolve({ type: 'killed' });
  }

  captureHang(budgetMs: number): Promise<HangReport['where']> {
    if (this.over) return Promise.resolve({ notes: ['the attempt had already ended when its hang was captured'] });
    if (this.waiting) return Promise.resolve({ notes: [this.queue.describeWait(this)] });
    const host = this.host!;
    return this.captureWithin(budgetMs, async () => (await host.capture(this, budgetMs)) ?? { notes: ['the executor host went away during the capture'] });
  }

  pids(): number[] {
    return [...this.execPids];
  }

  onMessage(message: Exclude<HostOutbound, { type: 'captured' | 'ready' | 'thread-gone' }>): void {
    if (message.type === 'end') return this.finish(message.end);
    if (message.type === 'all' && !this.over && this.awaiting.add(message.id).size === 1) this.queue.parkedChanged(this);
    this.relayed(message);
  }

  killExecGroups(): void {
    for (const pid of this.execPids) killGroup(pid);
  }

  /** Ends the attempt with `end`; a waiting attempt leaves the queue (its thread could not be started). */
  finish(end: AttemptEnd): void {
    const state = this.life.state;
    if (state.name === 'waiting') this.queue.withdraw(this);
    if (!this.life.to({ name: 'ended' })) return;
    this.awaiting.clear();
    // Programs started by ctx.exec die with the attempt, however it ended.
    this.killExecGroups();
    if (state.name === 'running' || state.name === 'killing') state.host.remove(this);
    // kill() SIGKILLs the attempt's programs before it terminates the thread: an error the code throws in that
    // window (its ctx.exec saw "killed by SIGKILL") is the kill's doing, not the task's.
    this.resolve(state.name === 'killing' && end.type === 'threw' ? { type: 'killed' } : end);
  }
}
