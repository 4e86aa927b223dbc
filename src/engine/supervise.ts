import { MAX_RESULT_BYTES, overLimit, resultTooLarge } from './limits.js';
import type { Claimed, AttemptFinish, Fence, Store } from '../store/contract.js';
import type { AutoTimeout, TaskDefinition } from '../task/define.js';
import type { LearnedTimeout } from './adaptive-timeout.js';
import { formatDuration } from '../task/duration.js';
import type { TaskMap } from '../task/registry.js';
import { serializeError } from '../task/serialize.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, Executor, RunningAttempt } from '../executors/types.js';
import type { AttemptSnapshot, ErrorKind, HangReport, Job, Json, Progress, SerializedError } from '../types.js';
import { settlesWithin, sleep, systemClock, type Clock, type Timer } from '../clock.js';
import { awaitChildren, ChildPolicyFailure, FAILFAST_CANCEL_REASON, spawnChildren } from './fanout.js';
import { untilStored } from './store-retry.js';
import type { ActivityBatcher } from './log-batcher.js';
import type { Slots } from './slots.js';
import { retryAfterOf } from './flow.js';
import { unfinishedDescendants, type OutOfTime } from './tree-deadline.js';

export interface SupervisorDeps {
  store: Store;
  tasks: TaskMap;
  tasksModule: string;
  batcher: ActivityBatcher;
  slots: Slots;
  executorFor(task: TaskDefinition): Executor;
  /** storeNow - localNow, to turn store-clock deadlines into local timers. */
  clockOffsetMs(): number;
  captureBudgetMs: number;
  pollMs?: number;
  /** Time and timers (the system clock unless a test drives its own). */
  clock?: Clock;
  /** Backoff between tries of a store write that must not be lost (the outcome, a parent's wait). */
  storeRetry?: StoreRetry;
  onEvent?(event: SupervisorEvent): void;
  /** The tasks module failed to load in the executor: no attempt of `task` can run in this worker. */
  onTaskUnusable?(task: string, message: string): void;
  /** Adaptive timeouts: the learned timeout of a task with `timeout: { auto: true, … }`. */
  learnTimeout?(task: string, auto: AutoTimeout): Promise<LearnedTimeout>;
}

/** First delay, doubling up to maxMs, for as long as it takes. */
export interface StoreRetry {
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_STORE_RETRY: StoreRetry = { firstMs: 100, maxMs: 5_000 };

export type SupervisorEvent =
  | { type: 'started'; jobId: string; attempt: number; task: string }
  | { type: 'progress'; jobId: string; progress: Progress }
  | { type: 'enforcing'; jobId: string; attempt: number; kind: ErrorKind; message: string }
  | {
      type: 'finished';
      jobId: string;
      attempt: number;
      outcome: 'succeeded' | ErrorKind;
      recorded: boolean;
      retrying: boolean;
      /** When not recorded: why, in words for an operator. */
      reason?: string;
    }
  | { type: 'error'; message: string; error: unknown };

/** Why the engine ends an attempt from outside. `shutdown` and `leaseLost` are not outcomes a task caused. */
type Ending = { kind: 'timeout' | 'stalled' | 'cancelled' | 'deadline'; message: string } | { kind: 'shutdown' | 'leaseLost'; message: string };

/**
 * The life of one attempt. Every move goes through `to()`, which allows only the moves in this table:
 * - starting: claimed; waits for an older attempt of the same job in this worker to be gone, builds the spec.
 * - running: handed to an executor, where its code runs or queues behind other attempts for a thread; timers watch it
 *   (the timeout, heartbeat and silence once it has a thread or one is started for it; the deadline throughout).
 * - enforcing: the engine is ending it from outside (capture → abort → grace → kill).
 * - ended: the code is over; nothing runs any more.
 * - recording: the outcome is being written, retried until the store takes it.
 * - done: nothing left to do.
 */
export type AttemptPhase = 'starting' | 'running' | 'enforcing' | 'ended' | 'recording' | 'done';
export const ATTEMPT_TRANSITIONS: Readonly<Record<AttemptPhase, readonly AttemptPhase[]>> = {
  starting: ['running', 'ended'],
  running: ['enforcing', 'ended'],
  enforcing: ['ended'],
  ended: ['recording', 'done'],
  recording: ['done'],
  done: [],
};

/**
 * The attempt's worker slot: queued while a prefetched attempt waits in the worker's buffer for one, held while its
 * code may run, lent back while it waits for children (so the children can run, DESIGN G6), being taken again when
 * the wait ends, released at the end.
 */
export type SlotState = 'queued' | 'held' | 'lent' | 'resuming' | 'released';
export const SLOT_TRANSITIONS: Readonly<Record<SlotState, readonly SlotState[]>> = {
  queued: ['held', 'released'],
  held: ['lent', 'released'],
  lent: ['resuming', 'released'],
  resuming: ['held', 'released'],
  released: [],
};

const LOG_TAIL = 50;

/**
 * Supervises one attempt from claim to its recorded outcome. All enforcement happens here, outside the task:
 * timers for timeout/deadline/heartbeat/silence → hang capture (bounded) and abort → grace → kill. The attempt's
 * code runs in an executor; this runs on the worker's event loop and only waits on timers, messages and the store.
 */
/** What became of an outcome: written (with the job as the store left it), refused by fencing, or never written. */
type Written = { kind: 'recorded'; job: Job } | { kind: 'stale' } | { kind: 'gaveUp' };

export class AttemptSupervisor {
  readonly fence: Fence;
  private phase: AttemptPhase = 'starting';
  private slot: SlotState = 'held';
  private running: RunningAttempt | null = null;
  /** Set once, when the engine decides to end the attempt (or, while starting, to end it as soon as it runs). */
  private ending: Ending | null = null;
  private stopping: Promise<void> | null = null;
  private hangReport: HangReport | null = null;
  private snapshotting = false;
  /** The capture of a snapshot in flight, which an enforcement capture meanwhile reuses. */
  private snapshotWhere: Promise<HangReport['where']> | null = null;
  private readonly clock: Clock;
  /**
   * When the attempt started (for a prefetched one: left the buffer; once its code runs: when that started), for hang
   * reports' and snapshots' elapsed time.
   */
  private startedAt: number;
  private readonly timers = new Set<Timer>();
  private heartbeatTimer: Timer | null = null;
  private silenceTimer: Timer | null = null;
  /** How the stop went: did the code end within the grace after the abort, and how fast (for the message). */
  private stopped: { exited: boolean; afterMs: number } | null = null;
  private lastHeartbeatAt: number | null = null;
  private progress: Progress | null = null;
  private readonly logTail: string[] = [];
  private waits = 0;
  /**
   * Aborted when the code is over: waits on children end with it. Both controllers are made on first use: most
   * attempts spawn no children and record at the first try, and two controllers built and aborted per attempt were
   * ~20 µs of the supervisor's CPU per no-op job (bench/NOTES.md).
   */
  private lifetimeCtl: AbortController | null = null;
  private over = false;
  /** Why recording must stop trying (the lease is gone, or the worker stops); its controller is made on first use. */
  private givenUp: 'leaseLost' | 'shutdown' | null = null;
  private giveUpCtl: AbortController | null = null;
  private readonly def: TaskDefinition;
  /** Descendants the job's deadline caught unfinished (recorded in the parent's error). */
  private outOfTime: OutOfTime[] = [];
  /** Resolves when the attempt may go on without waiting for a slot: one was granted, or it ends unstarted. */
  private readonly slotWait: Promise<void>;
  private endSlotWait: () => void = () => undefined;
  private ran: number | null = null;
  /** The attempt's timeout, learned note and deadline (local clock), set when it is handed to its executor. */
  private limits: { timeoutMs: number; learned: LearnedTimeout | null; deadlineLocal: number } | null = null;
  /** When its own clocks started (null while it queues in the executor behind other attempts, or never started). */
  private clockStartedAt: number | null = null;
  /** The deadline's timer while it queues in the executor (the timeout is not running yet). */
  private waitDeadline: Timer | null = null;

  /**
   * `options.queued`: a prefetched attempt, claimed (its lease renewed by the worker) but waiting for the worker to
   * grant it a slot (`grantSlot`); until then it runs nothing, and an ending (shutdown, lease lost, cancel) ends it
   * unstarted.
   */
  constructor(private readonly claimed: Claimed, private readonly deps: SupervisorDeps, options: { queued?: boolean } = {}) {
    this.fence = claimed.fence;
    this.def = deps.tasks.get(claimed.job.task)!;
    this.clock = deps.clock ?? systemClock;
    this.startedAt = this.clock.now();
    if (options.queued) {
      this.slot = 'queued';
      this.slotWait = new Promise<void>((resolve) => (this.endSlotWait = resolve));
    } else {
      this.slotWait = Promise.resolve();
    }
  }

  /** In the worker's prefetch buffer, still to be started: a slot may be granted to it. */
  get waitingForSlot(): boolean {
    return this.slot === 'queued' && this.ending === null;
  }

  /** The worker took a slot for this prefetched attempt: it starts now. */
  grantSlot(): void {
    this.slotTo('held');
    this.endSlotWait();
  }

  get jobId(): string {
    return this.fence.jobId;
  }
  get task(): string {
    return this.claimed.job.task;
  }
  get state(): { phase: AttemptPhase; slot: SlotState } {
    return { phase: this.phase, slot: this.slot };
  }
  /** True while it counts against the worker's slots (false while a parent waits for children). */
  get active(): boolean {
    return this.slot === 'held';
  }

  /**
   * Runs the attempt to the end and records it. Never throws. `after`: an older attempt of the same job in this
   * worker that must be gone before this one starts (a job never runs twice at once in one worker).
   */
  async run(after?: Promise<unknown>): Promise<void> {
    if (after) await after;
    await this.slotWait;
    this.startedAt = this.clock.now();
    const job = this.claimed.job;
    const opts = this.def.options;
    let timeoutMs = opts.timeoutMs;
    let learned: LearnedTimeout | null = null;
    if (opts.autoTimeout && this.deps.learnTimeout) {
      // A store error here must not fail the attempt: the maximum is a safe timeout.
      learned = await this.deps.learnTimeout(job.task, opts.autoTimeout).catch(() => null);
      if (learned) {
        timeoutMs = learned.ms;
        this.deps.batcher.log(this.fence, 'system', `timeout ${formatDuration(timeoutMs)}, ${learned.note}`, this.clock.now());
      }
    }
    let end: AttemptEnd;
    if (this.ending) {
      // Cancelled, shut down or lost while it waited to start: it never runs.
      end = { type: 'killed' };
    } else {
      const now = this.clock.now();
      const deadlineLocal = job.deadlineAt === null ? Infinity : job.deadlineAt - this.deps.clockOffsetMs();
      this.limits = { timeoutMs, learned, deadlineLocal };
      this.deps.onEvent?.({ type: 'started', jobId: job.id, attempt: this.fence.attempt, task: job.task });
      try {
        const spec = this.buildSpec(Math.min(now + timeoutMs, deadlineLocal));
        const executor = this.deps.executorFor(this.def);
        this.running = executor.start(spec, this.channel());
        this.to('running');
        if (this.clockStartedAt !== null) {
          // The executor started its clocks at once (it called channel.clockStarts() inside start()).
          this.armClocks();
        } else if (this.running.queued) {
          // It queues in the executor behind other attempts' busy threads: only the job's deadline runs meanwhile.
          if (deadlineLocal !== Infinity) this.waitDeadline = this.at(deadlineLocal, () => void this.enforce(this.deadlineEnding()));
        } else {
          this.clockStarts();
        }
        end = await this.running.done;
        this.ran = this.clockStartedAt === null ? null : this.clock.now() - this.clockStartedAt;
      } catch (err) {
        // Building the spec (the command's argv function) or starting the executor failed: a task error.
        end = { type: 'threw', error: serializeError(err) };
      }
    }
    this.clearTimers();
    this.over = true;
    this.lifetimeCtl?.abort(ATTEMPT_OVER);
    if (this.stopping) await this.stopping;
    this.to('ended');
    await this.record(end);
  }

  /** A cancellation request arrived (store event or lease renewal). The canceller's reason is on the job. */
  cancel(reason?: string): void {
    if (reason !== undefined) {
      void this.enforce({ kind: 'cancelled', message: reason });
      return;
    }
    void this.deps.store
      .get(this.jobId)
      .then((job) => job?.cancelReason ?? null, () => null)
      .then((why) => this.enforce({ kind: 'cancelled', message: why ?? 'the job was cancelled' }));
  }

  /**
   * A look inside on request (`vigil inspect --now`): the hang capture, without aborting anything, stored on the
   * attempt. One at a time; a request that comes while one is being taken is answered by the next renewal.
   */
  snapshot(requestedAt: number): void {
    const running = this.running;
    if (this.phase !== 'running' || !running || this.snapshotting) return;
    this.snapshotting = true;
    void this.takeSnapshot(running, requestedAt)
      .then((snap) => this.deps.store.saveSnapshot(this.fence, snap))
      .catch(() => undefined) // the requester times out and says so; the renewal loop reports store trouble
      .finally(() => (this.snapshotting = false));
  }

  private async takeSnapshot(running: RunningAttempt, requestedAt: number): Promise<AttemptSnapshot> {
    const started = this.clock.now();
    const budget = this.deps.captureBudgetMs;
    const late = sleep(this.clock, budget + 100);
    let where: HangReport['where'];
    try {
      this.snapshotWhere = running.captureHang(budget);
      where = await Promise.race([this.snapshotWhere, late.done.then(() => ({ notes: [`capture did not finish within ${budget} ms`] }))]);
    } catch (err) {
      where = { notes: [`capture failed: ${err instanceof Error ? err.message : String(err)}`] };
    } finally {
      late.cancel();
      this.snapshotWhere = null;
    }
    return {
      requestedAt,
      capturedAt: started,
      elapsedMs: started - this.startedAt,
      captureMs: this.clock.now() - started,
      lastHeartbeatAt: this.lastHeartbeatAt,
      progress: this.progress,
      logTail: [...this.logTail],
      where: { ...where, notes: ['taken on request: the attempt kept running; nothing was stopped', ...(where.notes ?? [])] },
    };
  }

  /** The lease is gone: another worker may already run this job. Kill and record nothing (G5). */
  leaseLost(): void {
    this.stopTrying('leaseLost');
    void this.enforce({ kind: 'leaseLost', message: 'the lease was lost (the store was unreachable or this worker froze); the attempt was killed and its result discarded' });
  }

  /**
   * Worker shutdown after the drain period: stop the attempt and return the job to the queue uncharged. Also how a
   * prefetched attempt that never started goes back (`message` then says so).
   */
  shutdown(message = 'the worker shut down before the attempt finished; the job was returned to the queue (not charged)'): void {
    this.stopTrying('shutdown');
    void this.enforce({ kind: 'shutdown', message });
  }

  /** How long the code ran (from its start to its end), once it has; null if it never started. */
  get ranMs(): number | null {
    return this.ran;
  }

  private to(next: AttemptPhase): void {
    if (!ATTEMPT_TRANSITIONS[this.phase].includes(next)) throw new Error(`attempt ${this.fence.jobId}:${this.fence.attempt}: illegal move ${this.phase} → ${next}`);
    this.phase = next;
  }

  private slotTo(next: SlotState): void {
    if (!SLOT_TRANSITIONS[this.slot].includes(next)) throw new Error(`attempt ${this.fence.jobId}:${this.fence.attempt}: illegal slot move ${this.slot} → ${next}`);
    const had = this.slot === 'held';
    this.slot = next;
    if (had && next !== 'held') this.deps.slots.release();
  }

  /**
   * The attempt's own clocks — timeout, heartbeat, silence — start: when it is handed to its executor, or, if the
   * executor queues it behind other attempts (a thread executor whose threads are all busy), when a thread is given
   * to it or started for it (channel.clockStarts()). Queueing behind other attempts is not this attempt running: a
   * timeout that ran out there would abort, kill and "report where it hung" for code that never ran (DESIGN G1, G3).
   * Its own thread's start counts, as it did when every attempt started its own thread. The job's deadline runs
   * regardless. Returns when the attempt must be over (the spec's endsAt from then on: ctx.exec's default timeout).
   */
  private clockStarts(): number {
    const { timeoutMs, deadlineLocal } = this.limits!;
    if (this.clockStartedAt === null) {
      this.clockStartedAt = this.startedAt = this.clock.now();
      if (this.phase === 'running') this.armClocks();
    }
    return Math.min(this.clockStartedAt + timeoutMs, deadlineLocal);
  }

  /** Arms the timeout (or the deadline, whichever comes first), heartbeat and silence clocks of running code. */
  private armClocks(): void {
    if (this.phase !== 'running' || this.clockStartedAt === null) return;
    const { timeoutMs, learned, deadlineLocal } = this.limits!;
    if (this.waitDeadline) {
      this.waitDeadline.cancel();
      this.timers.delete(this.waitDeadline);
      this.waitDeadline = null;
    }
    const timeoutAt = this.clockStartedAt + timeoutMs;
    const endsAt = Math.min(timeoutAt, deadlineLocal);
    this.at(endsAt, () =>
      endsAt === timeoutAt
        ? this.enforce({ kind: 'timeout', message: `attempt ${this.fence.attempt} exceeded its timeout of ${formatDuration(timeoutMs)}${learned ? ` (${learned.note})` : ''}` })
        : this.enforce(this.deadlineEnding()),
    );
    this.armHeartbeat();
    this.armSilence();
  }

  private deadlineEnding(): Ending {
    return { kind: 'deadline', message: `the job's deadline passed during attempt ${this.fence.attempt}` };
  }

  private buildSpec(endsAt: number): AttemptSpec {
    const job = this.claimed.job;
    const spec: AttemptSpec = {
      key: `${job.id}:${this.fence.attempt}`,
      jobId: job.id,
      attempt: this.fence.attempt,
      task: job.task,
      input: job.input,
      tasksModule: this.deps.tasksModule,
      memoryMb: this.def.options.memoryMb,
      endsAt,
    };
    if (this.def.command) {
      const argv = this.def.command(job.input as never);
      if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
        throw Object.assign(new Error(`task "${job.task}": command(input) must return a non-empty array of strings (got ${JSON.stringify(argv)})`), { retryable: false });
      }
      const stdin = typeof this.def.stdin === 'function' ? this.def.stdin(job.input as never) : this.def.stdin;
      spec.command = { argv, cwd: this.def.cwd, env: this.def.env, stdin, result: this.def.result, pythonStacks: this.def.pythonStacks };
    }
    return spec;
  }

  private channel(): AttemptChannel {
    const { batcher } = this.deps;
    const fence = this.fence;
    return {
      log: (stream, line, ts) => {
        batcher.log(fence, stream, line, ts);
        this.logTail.push(`${new Date(ts).toISOString()} ${stream}: ${line}`);
        if (this.logTail.length > LOG_TAIL) this.logTail.shift();
      },
      heartbeat: () => {
        this.lastHeartbeatAt = this.clock.now();
        batcher.heartbeat(fence, this.lastHeartbeatAt);
        this.armHeartbeat();
      },
      progress: (p) => {
        this.progress = p;
        batcher.progress(fence, p);
        this.deps.onEvent?.({ type: 'progress', jobId: fence.jobId, progress: p });
      },
      activity: () => this.armSilence(),
      clockStarts: () => this.clockStarts(),
      processStarted: () => undefined,
      processEnded: () => undefined,
      // Spawning is idempotent (children are unique per parent and key): a store outage is waited out.
      spawn: (children) =>
        untilStored(() => spawnChildren(this.deps.store, this.deps.tasks, this.parentFacts(), children), {
          clock: this.clock,
          retry: this.deps.storeRetry ?? DEFAULT_STORE_RETRY,
          signal: this.lifetime(),
          onError: (error) => this.deps.onEvent?.({ type: 'error', message: `job ${this.jobId}: creating its children failed; retrying with backoff`, error }),
        }),
      all: (request) => this.waitChildren(request),
      isCurrent: () => this.isCurrent(),
    };
  }

  /** What children inherit: the parent's deadline bounds them (converted to a remaining time on the store's clock). */
  private parentFacts(): Parameters<typeof spawnChildren>[2] {
    return { ...this.fence, deadlineAt: this.claimed.job.deadlineAt, storeNow: this.clock.now() + this.deps.clockOffsetMs() };
  }

  /**
   * ctx.isCurrent(): false once this worker knows the lease is gone; otherwise the store's row decides (running,
   * this attempt, this worker, lease not expired on the store's clock).
   */
  private async isCurrent(): Promise<boolean> {
    if (this.givenUp) return false;
    const job = await this.deps.store.get(this.fence.jobId);
    const storeNow = this.clock.now() + this.deps.clockOffsetMs();
    return (
      !!job &&
      job.state === 'running' &&
      job.attempts === this.fence.attempt &&
      job.leaseOwner === this.fence.workerId &&
      (job.leaseExpiresAt ?? 0) > storeNow
    );
  }

  /**
   * Waiting counts towards the attempt's timeout and deadline (they keep running); the heartbeat requirement is
   * suspended while waiting, because the engine itself is doing the waiting. The slot is lent back meanwhile.
   * A store outage during the wait is ridden out (retried with backoff, reported as an error event): it is not
   * the task's failure.
   */
  private async waitChildren(request: Parameters<AttemptChannel['all']>[0]): Promise<Awaited<ReturnType<AttemptChannel['all']>>> {
    this.waits++;
    if (this.slot === 'held') this.slotTo('lent');
    this.disarm('heartbeat');
    try {
      return await awaitChildren(this.deps.store, request, {
        signal: this.lifetime(),
        pollMs: this.deps.pollMs,
        clock: this.clock,
        retry: this.deps.storeRetry ?? DEFAULT_STORE_RETRY,
        onStoreError: (error) => this.deps.onEvent?.({ type: 'error', message: `job ${this.jobId}: reading its children failed; retrying with backoff`, error }),
      });
    } catch (err) {
      if (err instanceof ChildPolicyFailure) throw err.serialized;
      throw serializeError(err);
    } finally {
      this.waits--;
      if (this.waits === 0 && this.slot === 'lent' && !this.over) await this.resumeSlot();
    }
  }

  private async resumeSlot(): Promise<void> {
    this.slotTo('resuming');
    await this.deps.slots.resume();
    if (this.slot === 'released') {
      // The attempt ended while it queued for the slot: give it straight back.
      this.deps.slots.release();
      return;
    }
    this.slotTo('held');
    if (this.waits > 0) this.slotTo('lent');
    else this.armHeartbeat();
  }

  private releaseSlot(): void {
    if (this.slot !== 'released') this.slotTo('released');
  }

  /** Ends the attempt from outside: capture where it is stuck (bounded), abort, grace, kill. */
  private enforce(ending: Ending): Promise<void> {
    if (this.phase === 'starting') {
      // Not started yet (an older attempt of the job is still being stopped, or it waits in the prefetch buffer):
      // it will not start at all.
      this.ending ??= ending;
      this.endSlotWait();
      return Promise.resolve();
    }
    if (this.phase !== 'running' || !this.running) return Promise.resolve();
    this.to('enforcing');
    this.ending = ending;
    this.stopping = this.stop(this.running, ending);
    return this.stopping;
  }

  private async stop(running: RunningAttempt, ending: Ending): Promise<void> {
    this.clearTimers();
    if (ending.kind !== 'shutdown' && ending.kind !== 'leaseLost') {
      this.deps.onEvent?.({ type: 'enforcing', jobId: this.jobId, attempt: this.fence.attempt, kind: ending.kind, message: ending.message });
    }
    // A manual cancel is when a user most wants to know where it was stuck: capture then too. Not for the siblings
    // failFast cancels: nobody asked where they were, and pausing many threads at once only adds risk and delay.
    const manualCancel = ending.kind === 'cancelled' && ending.message !== FAILFAST_CANCEL_REASON;
    const captures = ending.kind === 'timeout' || ending.kind === 'stalled' || ending.kind === 'deadline' || manualCancel;
    const captureUntil = this.clock.now() + this.deps.captureBudgetMs;
    const capture = captures ? this.capture(running, ending.kind as ErrorKind) : null;
    const abortedAt = this.clock.now();
    running.abort(ending.message);
    const grace = ending.kind === 'leaseLost' ? 0 : this.def.options.graceMs;
    const exited = await settlesWithin(this.clock, running.done, grace);
    this.stopped = { exited, afterMs: this.clock.now() - abortedAt };
    // Capture never delays the kill past its own bound, counted from when it started (it runs during the grace).
    if (capture) await settlesWithin(this.clock, capture, Math.max(0, captureUntil - this.clock.now()));
    if (!exited) await running.kill();
  }

  private async capture(running: RunningAttempt, kind: ErrorKind): Promise<void> {
    const started = this.clock.now();
    const budget = this.deps.captureBudgetMs;
    let where: HangReport['where'];
    const late = sleep(this.clock, budget + 100);
    try {
      where = await Promise.race([
        // A snapshot being taken right now is the same look: never two captures of one attempt at once.
        this.snapshotWhere ?? running.captureHang(budget),
        late.done.then(() => ({ notes: [`capture did not finish within ${budget} ms; the kill went ahead`] })),
      ]);
    } catch (err) {
      where = { notes: [`capture failed: ${err instanceof Error ? err.message : String(err)}`] };
    } finally {
      late.cancel();
    }
    this.hangReport = {
      kind,
      capturedAt: started,
      elapsedMs: started - this.startedAt,
      captureMs: this.clock.now() - started,
      lastHeartbeatAt: this.lastHeartbeatAt,
      progress: this.progress,
      logTail: [...this.logTail],
      where: { ...where, notes: where.notes ?? [] },
    };
  }

  private async record(end: AttemptEnd): Promise<void> {
    // Before the slot is free: the worker must stop claiming this task before it could claim the next such job.
    if (end.type === 'threw' && end.error.code === 'VIGIL_TASKS_MODULE_LOAD' && !this.ending) this.deps.onTaskUnusable?.(this.claimed.job.task, end.error.message);
    this.releaseSlot();
    await this.deps.batcher.flush();
    const ending = this.ending;
    if (ending?.kind === 'leaseLost') {
      this.to('done');
      this.deps.onEvent?.({ type: 'finished', jobId: this.jobId, attempt: this.fence.attempt, outcome: 'crashed', recorded: false, retrying: false, reason: LOST });
      return;
    }
    if (ending?.kind === 'deadline') this.outOfTime = await unfinishedDescendants(this.deps.store, this.jobId);
    const finish = this.decide(end, ending);
    this.to('recording');
    const written = await this.write(finish);
    if (written.kind === 'recorded' && finish.outcome !== 'succeeded') {
      const pause = retryAfterOf(finish.error);
      if (pause?.pauseTask) {
        await this.deps.store.pauseTask(this.task, pause.delayMs, `RetryAfterError from job ${this.jobId}: ${finish.error.message}`).catch(() => undefined);
      }
    }
    this.deps.onEvent?.({
      type: 'finished',
      jobId: this.jobId,
      attempt: this.fence.attempt,
      outcome: finish.outcome,
      recorded: written.kind === 'recorded',
      retrying: written.kind === 'recorded' && written.job.state === 'queued',
      ...(written.kind === 'recorded' ? {} : { reason: written.kind === 'stale' ? STALE : this.giveUpReason() }),
    });
  }

  /**
   * The outcome stays in memory, and the worker keeps renewing this attempt's lease, until the store takes it: an
   * outage of any length that ends within the lease loses nothing. Only the lease running out (told by a renewal)
   * or the worker stopping ends the tries — then the job is recovered as the store sees fit.
   */
  private async write(finish: AttemptFinish): Promise<Written> {
    const retry = this.deps.storeRetry ?? DEFAULT_STORE_RETRY;
    // 'done' as soon as the store answers (in the same turn): whoever sees the job finished sees this attempt over.
    for (let i = 0; ; i++) {
      try {
        const job = await this.deps.store.finishAttempt(this.fence, finish);
        this.to('done');
        return job ? { kind: 'recorded', job } : { kind: 'stale' };
      } catch (error) {
        this.deps.onEvent?.({ type: 'error', message: `job ${this.jobId}: recording attempt ${this.fence.attempt} (${finish.outcome}) failed; the outcome is kept and retried`, error });
      }
      if (this.givenUp) return this.gaveUp();
      const pause = sleep(this.clock, Math.min(retry.maxMs, retry.firstMs * 2 ** Math.min(i, 30)));
      const onGiveUp = (): void => pause.cancel();
      const giveUp = this.giveUpSignal();
      giveUp.addEventListener('abort', onGiveUp, { once: true });
      await pause.done;
      giveUp.removeEventListener('abort', onGiveUp);
      if (this.givenUp) return this.gaveUp();
    }
  }

  private gaveUp(): Written {
    this.to('done');
    return { kind: 'gaveUp' };
  }

  private lifetime(): AbortSignal {
    if (!this.lifetimeCtl) {
      this.lifetimeCtl = new AbortController();
      if (this.over) this.lifetimeCtl.abort(ATTEMPT_OVER);
    }
    return this.lifetimeCtl.signal;
  }

  /** The first reason sticks, as an AbortController's does. */
  private stopTrying(why: 'leaseLost' | 'shutdown'): void {
    if (this.givenUp) return;
    this.givenUp = why;
    this.giveUpCtl?.abort(why);
  }

  private giveUpSignal(): AbortSignal {
    if (!this.giveUpCtl) {
      this.giveUpCtl = new AbortController();
      if (this.givenUp) this.giveUpCtl.abort(this.givenUp);
    }
    return this.giveUpCtl.signal;
  }

  private giveUpReason(): string {
    return this.givenUp === 'leaseLost' ? LOST : 'the worker stopped while the store was unreachable; the outcome was not written and the job will be recovered';
  }

  /**
   * What happened to the attempt, as the store needs it: outcome, error, hang report, and whether it is charged.
   * What happens to the JOB next (retry when, fail, cancel, deadline) is not decided here: the store applies
   * nextState() (src/store/next-state.ts, DESIGN G9) to the row it locked, with the job's stored retry policy.
   */
  private decide(end: AttemptEnd, ending: Ending | null): AttemptFinish {
    if (ending?.kind === 'shutdown') {
      return { outcome: 'crashed', error: { kind: 'crashed', message: ending.message }, charged: false };
    }
    let error: SerializedError;
    let charged = true;
    if (ending) {
      error = { kind: ending.kind as ErrorKind, message: this.describeEnding(ending) };
      // Cancelling is the user's decision, not a failure of the attempt: it does not use up the retry budget.
      if (ending.kind === 'cancelled') charged = false;
      if (ending.kind === 'deadline' && this.outOfTime.length > 0) {
        // The tree's deadline is one deadline: say which descendants it caught unfinished (they end `deadline` too).
        error.message += `; ${this.outOfTime.length} descendant job(s) ran out of time with it: ${this.outOfTime.slice(0, 10).map((j) => j.jobId).join(', ')}${this.outOfTime.length > 10 ? ', …' : ''}`;
        error.details = { outOfTime: this.outOfTime };
      }
    } else {
      switch (end.type) {
        case 'returned': {
          const bytes = overLimit(end.value, MAX_RESULT_BYTES);
          if (bytes === null) return { outcome: 'succeeded', result: end.value as Json };
          error = resultTooLarge(this.def.options.name, bytes);
          break;
        }
        case 'threw':
          error = end.error;
          // The tasks module would not load in the executor (a missing model file, a native module): no job of this
          // task can run here. Not the job's fault: uncharged, back to the queue for a worker that can run it.
          if (error.code === 'VIGIL_TASKS_MODULE_LOAD') charged = false;
          break;
        case 'oom':
          error = { kind: 'oom', message: `${end.message} (memoryMb: ${this.def.options.memoryMb})` };
          break;
        case 'died':
          error = { kind: 'crashed', message: end.message };
          charged = !end.collateral;
          break;
        case 'killed':
          error = { kind: 'crashed', message: 'the attempt was killed' };
          break;
      }
    }
    // RetryAfterError: the outside world said "not now" — back to the queue at that time, not charged.
    const retryAfter = ending ? null : retryAfterOf(error);
    if (retryAfter) return { outcome: error.kind, error, hangReport: this.hangReport, charged: false, retryAfterMs: retryAfter.delayMs };
    return { outcome: error.kind, error, hangReport: this.hangReport, charged };
  }

  private describeEnding(ending: Ending): string {
    const grace = formatDuration(this.def.options.graceMs);
    const report = this.hangReport ? `; hang report stored (vigil inspect ${this.jobId})` : '';
    // Say whether the program handled the stop request itself: a script that never exits on SIGTERM needs fixing.
    const request = this.def.options.kind === 'command' ? 'SIGTERM' : 'the abort signal';
    const how = !this.stopped
      ? 'aborted and killed'
      : this.stopped.exited
        ? `it stopped ${formatDuration(this.stopped.afterMs)} after ${request}`
        : `it did not stop on ${request} and was killed${this.def.options.kind === 'command' ? ' (SIGKILL)' : ''} after the ${grace} grace`;
    return `${ending.message}; ${how}${report}`;
  }

  private at(when: number, fn: () => void): Timer {
    const timer = this.clock.timeout(Math.max(0, when - this.clock.now()), fn);
    this.timers.add(timer);
    return timer;
  }

  private armHeartbeat(): void {
    const ms = this.def.options.heartbeatMs;
    if (ms === null || this.phase !== 'running' || this.clockStartedAt === null || this.waits > 0) return;
    this.disarm('heartbeat');
    this.heartbeatTimer = this.clock.timeout(ms, () => void this.enforce({ kind: 'stalled', message: `no heartbeat for ${formatDuration(ms)} (task declares heartbeat: ${formatDuration(ms)})` }));
  }

  private armSilence(): void {
    const ms = this.def.options.silenceMs;
    if (ms === null || this.phase !== 'running' || this.clockStartedAt === null) return;
    this.disarm('silence');
    this.silenceTimer = this.clock.timeout(ms, () => void this.enforce({ kind: 'stalled', message: `no output for ${formatDuration(ms)} (task declares silence: ${formatDuration(ms)})` }));
  }

  private disarm(which: 'heartbeat' | 'silence'): void {
    if (which === 'heartbeat') {
      this.heartbeatTimer?.cancel();
      this.heartbeatTimer = null;
    } else {
      this.silenceTimer?.cancel();
      this.silenceTimer = null;
    }
  }

  private clearTimers(): void {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.disarm('heartbeat');
    this.disarm('silence');
  }
}

/**
 * Why an attempt's lifetime signal aborts (its waits on children end with it). One shared reason: abort() without
 * one builds a DOMException with a captured stack for every attempt (~1 % of a no-op drain's supervisor CPU).
 */
const ATTEMPT_OVER = new Error('the attempt is over');

const LOST = 'the lease was lost (the store was unreachable for longer than the lease, or this worker froze): the attempt was killed, its outcome discarded, and the job is recovered';
const STALE = 'the store no longer holds this attempt (its lease expired or the job was taken over): the outcome was discarded';
