import { ProcessLedger } from './process-ledger.js';
import { EventEmitter } from 'node:events';
import { TimeoutLearner } from './adaptive-timeout.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Claimed, Store } from '../store/contract.js';
import type { TaskDefinition } from '../task/define.js';
import type { TaskMap } from '../task/registry.js';
import type { Executor } from '../executors/types.js';
import { ActivityBatcher, fenceKey } from './log-batcher.js';
import { Watchdog, type WatchdogOptions } from './watchdog.js';
import { Slots } from './slots.js';
import { AttemptSupervisor, DEFAULT_STORE_RETRY, type StoreRetry, type SupervisorEvent } from './supervise.js';
import { settlesWithin, systemClock, type Clock, type Timer } from '../clock.js';
import type { JobState, Json } from '../types.js';
import { FlowControl, rateLimitsOf } from './flow.js';
import type { KeepOptions } from '../task/define.js';

export interface WorkerOptions {
  store: Store;
  tasks: TaskMap;
  /** Absolute path of the tasks module (executors load it by path). */
  tasksModule: string;
  /** Slots: attempts running at once (parents waiting on children do not count). Default 4. */
  concurrency?: number;
  /**
   * Prefetch: jobs claimed beyond the free slots and kept ready in this worker, so a freed slot starts its next
   * attempt at once instead of after a store round trip (the refill is claimed in the background, with the freed
   * attempt's finish). Buffered jobs hold leases (renewed like running ones) and are handed back to the queue,
   * uncharged, on stop; a SIGKILLed worker's are recovered when their leases expire, like its running attempts.
   * Not used for tasks with a rate limit (a start is counted when claimed). The buffer is refilled once it is half
   * empty (or a slot is free), so claims come in batches rather than one job per finished attempt. This is the most
   * jobs it holds; it holds fewer when attempts take longer (about PREFETCH_SPAN_MS of work for all slots together,
   * so a buffered job starts soon after its claim). Default 128; 0 turns it off.
   */
  prefetch?: number;
  /**
   * Lease length. Renewed every leaseMs/3, but at least every second: on SQLite the renewal is also how a
   * cancellation requested by another process reaches the attempt. Default 30s.
   */
  leaseMs?: number;
  /** How long a graceful stop lets running attempts finish. Default 30s. */
  drainMs?: number;
  /** Re-check the store this often when idle (other processes' SQLite writes are not pushed). Default 500 ms. */
  pollMs?: number;
  /** Bound of a hang capture before a kill. Default 2s. */
  captureBudgetMs?: number;
  workerId?: string;
  executors: { thread: Executor; process: Executor; command: Executor };
  /** Claim only this job and its descendants (used by `vigil run`). */
  rootJobId?: string;
  /** Time and timers; the system clock unless a test drives its own. */
  clock?: Clock;
  /** Backoff between tries of writes that must not be lost (outcomes, a parent's reads). Default 100 ms doubling to 5 s. */
  storeRetry?: StoreRetry;
  /** Called once the worker has stopped (its owner closes what it gave the worker, e.g. executors). */
  onClose?: () => Promise<void>;
  /** Global retention of finished jobs and logs (docs/retention.md). Default: keep everything. */
  keep?: KeepOptions;
  /** The supervisor's self-watchdog (G8): freeze threshold, stack capture, restart-on-freeze. */
  watchdog?: Omit<WatchdogOptions, 'workerId'>;
}

/** Attempts shorter than this (the median of the last RECENT_RUNS) make the worker prefetch. */
const PREFETCH_SHORT_MS = 50;
const RECENT_RUNS = 9;
/**
 * The buffer holds about this much work (the recent median attempt, spread over the slots): a buffered job is one
 * another worker could run, so it should start within about this long of its claim. Tiny attempts get the whole
 * buffer: at concurrency 1 a claim then takes ~64 jobs, and the claims' fixed cost (candidates read, gates, a
 * transaction, on PostgreSQL a round trip) is paid once for them all. The span, not the cap, bounds the buffer for
 * anything but tiny attempts: 128 jobs only when attempts take under ~0.4 ms at concurrency 1. Draining 20,000
 * no-op jobs (alternated, bench/NOTES.md), a cap of 16 → 64 → 128: SQLite C=1 1,942-1,991 → 2,891-2,904 →
 * 2,938-3,266/s, C=10 2,078-2,188 → 2,625-2,693 → 2,641-2,798/s; PostgreSQL C=10 (64 → 128) 1,706-1,758 → 1,974/s.
 */
const PREFETCH_SPAN_MS = 50;
const PREFETCH_MAX = 128;
/** A prefetched job waits at most about this long for a slot before it goes back to the queue (checked at renewals). */
const PREFETCH_HOLD_MS = 1_000;
/** How long start() waits at most for the thread executor's warm-up before it claims anyway. */
const PREWARM_BOUND_MS = 5_000;

export type WorkerEvent =
  | SupervisorEvent
  | { type: 'error'; message: string; error: unknown }
  | { type: 'idle' }
  /** Jobs of dead workers whose expired leases this worker recovered, and what became of each. */
  | { type: 'recovered'; jobs: Array<{ jobId: string; task: string; state: JobState; message: string }> };

interface Running {
  sup: AttemptSupervisor;
  done: Promise<void>;
}

/**
 * A worker: claims jobs into its slots, supervises each attempt, renews leases, recovers the leases of dead
 * workers, and drains on stop. Task code never runs here (DESIGN G8); this loop only waits.
 *
 * Running attempts are known by their fence (job id + attempt), never by job id alone: the same job can come back
 * to this worker while an older attempt of it is still being stopped (requeued at once after a collateral kill or
 * with `backoff: 0`, or recovered after this worker froze past its lease). The new attempt then waits for the old
 * one to be gone, and answers about one attempt never reach the other.
 */
export class Worker extends EventEmitter {
  readonly workerId: string;
  readonly slots: Slots;
  private readonly running = new Map<string, Running>();
  private readonly batcher: ActivityBatcher;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly clock: Clock;
  private stopping = false;
  private forced = false;
  private stopped: Promise<void> | null = null;
  private closed: Promise<void> | null = null;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pendingWake = false;
  private clockOffset = 0;
  private readonly repeating: Timer[] = [];
  /** Tasks whose module failed to load in an executor: not claimed again until the worker restarts. */
  private readonly unusable = new Set<string>();
  private ledger: ProcessLedger | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastRecovery = -Infinity;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  private storeDownSince: number | null = null;
  private watchdog: Watchdog | null = null;
  private flow: FlowControl | null = null;
  private readonly learner: TimeoutLearner;
  /** Prefetched attempts waiting for a slot, oldest first (each is also in `running`, so its lease is renewed). */
  private readonly buffer: Array<{ sup: AttemptSupervisor; since: number }> = [];
  private readonly prefetch: number;
  /** How long the last few attempts ran here (their median decides whether prefetch pays). */
  private readonly recentRunMs: number[] = [];

  constructor(private readonly options: WorkerOptions) {
    super();
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.slots = new Slots(options.concurrency ?? 4);
    this.prefetch = Math.max(0, Math.floor(options.prefetch ?? PREFETCH_MAX));
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? (options.store.crossProcessEvents ? 5_000 : 500);
    this.clock = options.clock ?? systemClock;
    this.learner = new TimeoutLearner(options.store, () => this.clock.now());
    this.batcher = new ActivityBatcher(options.store, { onError: (error) => this.emitError('could not write logs/heartbeats', error) });
  }

  /** Attempts not over yet (running, being stopped, or with an outcome still to write). */
  /** Doctor calls a worker lost when it has been silent past its lease: it must report more often than that. */
  get reportEveryMs(): number {
    return Math.round(Math.max(250, Math.min(5_000, this.leaseMs / 3)));
  }

  get runningCount(): number {
    let n = 0;
    for (const { sup } of this.running.values()) if (sup.state.phase !== 'done' && sup.state.slot !== 'queued') n++;
    return n;
  }

  /** Prefetched jobs claimed and waiting in this worker for a slot. */
  get prefetchedCount(): number {
    return this.buffer.length;
  }

  async start(): Promise<void> {
    const { store } = this.options;
    this.clockOffset = (await store.now()) - this.clock.now();
    await store.registerWorker({
      workerId: this.workerId,
      hostname: hostname(),
      pid: process.pid,
      concurrency: this.slots.capacity,
      tasks: [...this.options.tasks.values()].map((t) => ({ name: t.options.name, options: taskSummary(t) })),
      leaseMs: this.leaseMs,
      reportEveryMs: this.reportEveryMs,
    });
    // Survivors of crashed workers on this machine are killed before this one starts anything (DESIGN G1).
    this.ledger = new ProcessLedger({
      store,
      workerId: this.workerId,
      onReaped: (count, from, what) => this.emitError(`killed ${count} process(es) left running by crashed worker ${from}: ${what}`, null),
      onError: (m, e) => this.emitError(m, e),
    });
    await this.ledger.start();
    // After the ledger: survivors of crashed workers are killed before this worker starts any process.
    const warm = this.prewarm();
    this.loopDelay.enable();
    const stallMs = this.options.watchdog?.stallMs ?? Math.max(1_000, Math.min(5_000, this.leaseMs / 3));
    this.watchdog = new Watchdog({ ...this.options.watchdog, stallMs, workerId: this.workerId });
    this.unsubscribe = store.subscribe((event) => {
      // Not on `finished`: a job finished elsewhere frees no slot here, and waking every idle worker for every
      // finished job cost a claim and a nextRunAt each (the review's §3.1).
      if (event.type === 'enqueued') this.poke();
      if (event.type === 'cancelRequested') for (const id of event.jobIds) for (const r of this.attemptsOf(id)) r.sup.cancel();
      if (event.type === 'snapshotRequested') for (const r of this.attemptsOf(event.jobId)) r.sup.snapshot(event.requestedAt);
    });
    // A freed slot goes to the next prefetched attempt at once (no store round trip); the poke refills the buffer.
    this.slots.onRelease(() => {
      this.dispatch();
      this.poke();
    });
    this.every(Math.max(100, Math.min(1_000, this.leaseMs / 3)), () => this.renew());
    this.every(this.reportEveryMs, () => this.reportStats());
    // Schedules and retention (src/engine/flow.ts); `vigil run` supervises one job tree and does neither.
    if (this.options.rootJobId === undefined) {
      this.flow = new FlowControl({ store, tasks: this.options.tasks, tasksModule: this.options.tasksModule, keep: this.options.keep, onError: (m, e) => this.emitError(m, e) });
      await this.flow.start();
    }
    // At once too: the task list in the stats tells waiters whether this worker serves their job (task/serving.ts).
    await this.reportStats();
    await warm;
    this.loop = this.claimLoop();
  }

  /**
   * Threads started and the tasks module loaded in them before the first claim: the first attempts do not pay a
   * thread's cold start (a Worker, tsx, the module: 100s of ms) inside their timeouts, nor a drain's first jobs.
   * Bounded in time; a failure only costs the warm-up (a module that fails to load fails the attempts, with its
   * own error, as without warming).
   */
  private async prewarm(): Promise<void> {
    const executor = this.options.executors.thread;
    // One job tree (`vigil run`) is one attempt at first, of a task that may not even run in a thread: its thread (if
    // it needs one) starts with it, and the claim is not held up behind a warm-up.
    if (this.options.rootJobId !== undefined) return;
    const threaded = [...this.options.tasks.values()].filter((t) => !t.command && t.options.isolation === 'thread');
    if (threaded.length === 0 || !executor.prewarm) return;
    const threads = this.slots.capacity;
    const memoryMb = threaded.some((t) => t.options.memoryMb === null) ? null : threaded[0]!.options.memoryMb;
    try {
      await executor.prewarm({ tasksModule: this.options.tasksModule, threads, memoryMb, withinMs: PREWARM_BOUND_MS });
    } catch (error) {
      this.emitError('could not warm the thread executor; attempts start their threads themselves', error);
    }
  }

  /** Graceful stop: no new claims; running attempts get drainMs to finish; the rest go back to the queue. */
  stop(options: { drainMs?: number } = {}): Promise<void> {
    this.stopped ??= this.drainAndClose(options.drainMs ?? this.options.drainMs ?? 30_000);
    return this.stopped;
  }

  /** Second signal: stop now. Attempts are killed and returned to the queue uncharged; bounded even if one hangs. */
  async forceStop(): Promise<void> {
    this.stopping = true;
    this.forced = true;
    this.poke();
    for (const { sup } of this.running.values()) sup.shutdown();
    // A claim still in flight is waited for within the same bound; what it claims is handed straight back.
    await settlesWithin(this.clock, Promise.all([this.loop, this.allDone()]), 3_000);
    await this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async drainAndClose(drainMs: number): Promise<void> {
    this.stopping = true;
    this.poke();
    await this.loop;
    // Prefetched jobs never started: back to the queue at once, uncharged, for other workers.
    for (const { sup } of this.buffer.splice(0)) sup.shutdown();
    if (!(await settlesWithin(this.clock, this.allDone(), drainMs))) {
      for (const { sup } of this.running.values()) sup.shutdown();
      await this.allDone();
    }
    await this.close();
  }

  /** Every attempt, including those that start while we wait (an older attempt's successor). */
  private async allDone(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Once, however many stops ask for it. */
  private close(): Promise<void> {
    this.closed ??= this.closeNow();
    return this.closed;
  }

  private async closeNow(): Promise<void> {
    for (const t of this.repeating) t.cancel();
    this.repeating.length = 0;
    this.unsubscribe?.();
    await this.flow?.stop();
    this.loopDelay.disable();
    await this.watchdog?.stop();
    await this.batcher.close();
    await this.ledger?.close();
    await this.options.store.unregisterWorker(this.workerId).catch(() => undefined);
    await this.options.onClose?.();
  }

  /** Event-loop delay of this (supervisor) process, in ms: G8 says it stays small. */
  eventLoopDelay(): { p50: number; p99: number; max: number } {
    return { p50: this.loopDelay.percentile(50) / 1e6, p99: this.loopDelay.percentile(99) / 1e6, max: this.loopDelay.max / 1e6 };
  }

  private poke(): void {
    this.pendingWake = true;
    this.wake?.();
  }

  private async claimLoop(): Promise<void> {
    const { store } = this.options;
    // One macrotask first: whoever awaited start() attaches its 'event' listener before the first event (a
    // recovery found at once was otherwise emitted to nobody).
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (!this.stopping) {
      let nextAt: number | null = null;
      try {
        await this.maybeRecover();
        this.dispatch();
        const free = this.slots.free;
        // Free slots (the buffer is empty when any is free, after dispatch) plus the buffer's missing jobs — those
        // only once half the buffer is gone: a claim per finished attempt cost its fixed part (the candidates read,
        // the gates, a transaction) for one job; a store's claim of k jobs costs far less than k claims of one.
        const target = this.prefetchTarget();
        const missing = Math.max(0, target - this.buffer.length);
        const room = free + (free > 0 || missing * 2 >= target ? missing : 0);
        if (room > 0) {
          const limits = this.taskLimits(free, room);
          if (Object.keys(limits).length > 0) {
            const claimed = await this.claim(room, limits);
            this.storeDownSince = null;
            if (claimed === room) continue;
            nextAt = await store.nextRunAt(Object.keys(limits));
          }
        }
      } catch (err) {
        this.storeDownSince ??= this.clock.now();
        this.emitError('claiming failed; retrying with backoff', err);
        await this.idle(Math.min(5_000, 200 + (this.clock.now() - this.storeDownSince) / 2));
        continue;
      }
      const until = nextAt === null ? this.pollMs : Math.max(0, nextAt - this.clockOffset - this.clock.now());
      // Not past the next recovery sweep: on PostgreSQL the idle poll is 5 s (wake-ups come by NOTIFY), and a crashed
      // worker's jobs waited for it — 5 s to run elsewhere with a 2 s lease (bench:peers' crash recovery).
      const sweepIn = Math.max(0, this.lastRecovery + this.recoverEveryMs() - this.clock.now());
      await this.idle(Math.min(this.pollMs, until, sweepIn));
    }
  }

  /**
   * Claims up to `room` jobs into the buffer, then starts as many as there are free slots. Nothing starts without
   * a slot, so a parent resuming while the claim is in flight can never push the worker past its capacity: it
   * takes the slot, and the claimed job waits in the buffer (its lease renewed) for the next one.
   */
  private async claim(room: number, limits: Record<string, number>): Promise<number> {
    // `start`: the jobs beyond the free slots go to the buffer, and the store keeps them held (never started) until
    // a renewal says otherwise, so a SIGKILL of this process does not charge them an attempt.
    const claimed = await this.options.store.claim({
      workerId: this.workerId, leaseMs: this.leaseMs, limit: room, tasks: limits, rootJobId: this.options.rootJobId,
      rateLimits: rateLimitsOf(this.options.tasks), start: this.slots.free,
    });
    for (const c of claimed) this.launch(c);
    this.dispatch();
    return claimed.length;
  }

  /**
   * Prefetch pays only for short attempts: it saves one store round trip per start, which a long attempt does not
   * notice, while a job held in the buffer behind long attempts is one another worker could be running.
   */
  private prefetchTarget(): number {
    if (this.prefetch === 0 || this.recentRunMs.length === 0) return 0;
    // The median, not a mean: the first attempts of a thread pay for its start-up.
    const sorted = [...this.recentRunMs].sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1]!;
    if (median > PREFETCH_SHORT_MS) return 0;
    // About PREFETCH_SPAN_MS of work for all slots together, at least one job, at most the prefetch option.
    return Math.min(this.prefetch, Math.max(1, Math.ceil((this.slots.capacity * PREFETCH_SPAN_MS) / Math.max(median, 0.01))));
  }

  /** Prefetched jobs that waited too long for a slot (the attempts ahead turned out long) go back to the queue. */
  private handBackStale(): void {
    const now = this.clock.now();
    for (const held of [...this.buffer]) {
      if (!held.sup.waitingForSlot || now - held.since < PREFETCH_HOLD_MS) continue;
      this.buffer.splice(this.buffer.indexOf(held), 1);
      held.sup.shutdown(`returned to the queue unstarted: it waited over ${PREFETCH_HOLD_MS} ms in this worker's prefetch buffer (not charged)`);
    }
  }

  /** Grants free slots to prefetched attempts, oldest first. Not while stopping: those go back to the queue. */
  private dispatch(): void {
    if (this.stopping) return;
    while (this.buffer.length > 0 && this.slots.free > 0) {
      const { sup } = this.buffer.shift()!;
      // Ended while buffered (cancelled, lease lost): it records its end without a slot.
      if (!sup.waitingForSlot) continue;
      this.slots.take();
      sup.grantSlot();
    }
  }

  /** Resolves after ms, or at once when poked (also a poke that came while the loop was busy). */
  private idle(ms: number): Promise<void> {
    if (this.pendingWake || this.stopping) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    this.emit('event', { type: 'idle' } satisfies WorkerEvent);
    return new Promise((resolve) => {
      // Each wake-up forgets itself however it ends: a stale one left behind would swallow the next poke.
      const wake = (): void => {
        timer.cancel();
        if (this.wake === wake) this.wake = null;
        this.pendingWake = false;
        resolve();
      };
      const timer = this.clock.timeout(ms, () => {
        if (this.wake === wake) this.wake = null;
        resolve();
      });
      this.wake = wake;
    });
  }

  /**
   * How many jobs of each task the next claim may take: `room` (free slots + missing prefetch), less what a task's
   * concurrency cap leaves (buffered jobs count, they will run here). A rate-limited task is claimed only for free
   * slots: its start is counted at the claim, so a job kept in the buffer would start later than counted.
   */
  private taskLimits(free: number, room: number): Record<string, number> {
    const limits: Record<string, number> = {};
    const taken = new Map<string, number>();
    for (const { sup } of this.running.values()) if (sup.active || sup.waitingForSlot) taken.set(sup.task, (taken.get(sup.task) ?? 0) + 1);
    for (const [name, def] of this.options.tasks) {
      if (this.unusable.has(name)) continue;
      const cap = def.options.concurrency;
      const most = def.options.rateLimit ? free : room;
      const n = cap === null ? most : Math.min(most, cap - (taken.get(name) ?? 0));
      if (n > 0) limits[name] = n;
    }
    return limits;
  }

  /** Puts a claimed attempt in the buffer, where it waits for a slot (dispatch). */
  private launch(claimed: Claimed): void {
    const key = fenceKey(claimed.fence);
    // The store gave this job a new attempt, so any older attempt of it here has lost its lease: stop it, and
    // start the new one only when the old one is gone.
    const older = this.attemptsOf(claimed.fence.jobId);
    for (const r of older) r.sup.leaseLost();
    const sup = this.makeSupervisor(claimed);
    const entry: Running = {
      sup,
      done: sup.run(older.length ? Promise.all(older.map((r) => r.done)) : undefined).finally(() => {
        if (this.running.get(key) === entry) this.running.delete(key);
        const at = this.buffer.findIndex((b) => b.sup === sup);
        if (at >= 0) this.buffer.splice(at, 1);
        const ran = sup.ranMs;
        if (ran !== null && this.recentRunMs.push(ran) > RECENT_RUNS) this.recentRunMs.shift();
        this.poke();
      }),
    };
    this.running.set(key, entry);
    this.buffer.push({ sup, since: this.clock.now() });
    if (this.forced) sup.shutdown();
  }

  private attemptsOf(jobId: string): Running[] {
    return [...this.running.values()].filter((r) => r.sup.jobId === jobId);
  }

  private makeSupervisor(claimed: Claimed): AttemptSupervisor {
    const { executors } = this.options;
    return new AttemptSupervisor(claimed, {
      learnTimeout: (task, auto) => this.learner.timeoutFor(task, auto),
      store: this.options.store,
      tasks: this.options.tasks,
      tasksModule: this.options.tasksModule,
      batcher: this.batcher,
      slots: this.slots,
      executorFor: (def: TaskDefinition) => (def.command ? executors.command : def.options.isolation === 'process' ? executors.process : executors.thread),
      clockOffsetMs: () => this.clockOffset,
      captureBudgetMs: this.options.captureBudgetMs ?? 2_000,
      pollMs: this.pollMs,
      clock: this.clock,
      storeRetry: this.storeRetry(),
      onEvent: (event) => this.emit('event', event),
      onTaskUnusable: (task, message) => this.disableTask(task, message),
    }, { queued: true });
  }

  /** Tries must come often enough that one lands while the lease still holds. */
  private storeRetry(): StoreRetry {
    const r = this.options.storeRetry ?? DEFAULT_STORE_RETRY;
    return { firstMs: r.firstMs, maxMs: Math.max(r.firstMs, Math.min(r.maxMs, this.leaseMs / 4)) };
  }

  /** Runs `work` every `ms`, skipping a turn while the previous run is still in flight (they never pile up). */
  private every(ms: number, work: () => Promise<void>): void {
    let busy = false;
    const slot = this.repeating.length;
    const arm = (): void => {
      this.repeating[slot] = this.clock.timeout(ms, () => {
        arm();
        if (busy) return;
        busy = true;
        void work().finally(() => (busy = false));
      });
    };
    arm();
  }

  private async renew(): Promise<void> {
    this.handBackStale();
    if (this.running.size === 0) return;
    const fences = [...this.running.values()].map((r) => r.sup.fence);
    const held = this.buffer.filter((b) => b.sup.waitingForSlot).map((b) => b.sup.fence);
    try {
      const { lost, cancelRequested, snapshotRequested } = await this.options.store.renewLeases(this.workerId, fences, this.leaseMs, held);
      for (const f of lost) this.running.get(fenceKey(f))?.sup.leaseLost();
      for (const f of cancelRequested) this.running.get(fenceKey(f))?.sup.cancel();
      for (const r of snapshotRequested ?? []) this.running.get(fenceKey(r.fence))?.sup.snapshot(r.requestedAt);
    } catch (err) {
      // Keep running: if the store comes back before the leases expire nothing is lost; if not, fencing rejects
      // this worker's late results and the jobs are re-run elsewhere.
      this.emitError('lease renewal failed; attempts keep running', err);
    }
  }

  /** How often a worker looks for attempts whose lease expired (any worker's: the crashed ones' jobs run again). */
  private recoverEveryMs(): number {
    return Math.max(500, Math.min(5_000, this.leaseMs / 2));
  }

  private async maybeRecover(): Promise<void> {
    if (this.clock.now() - this.lastRecovery < this.recoverEveryMs()) return;
    this.lastRecovery = this.clock.now();
    const recovered = await this.options.store.recoverExpired();
    if (recovered.length === 0) return;
    // Said where it happens: otherwise a recovery is visible only later, in `inspect` of each job.
    const jobs = recovered.map((j) => ({ jobId: j.id, task: j.task, state: j.state, message: j.error?.message ?? '' }));
    this.emit('event', { type: 'recovered', jobs } satisfies WorkerEvent);
    this.poke();
  }

  /**
   * A worker-level fault, not a job's: burning every queued job's retries on a module that cannot load here would turn
   * one broken machine into failed jobs everywhere. Stop claiming the task, say so once, and stop announcing it, so
   * waiters hear that nobody serves it (task/serving.ts).
   */
  private disableTask(task: string, message: string): void {
    if (this.unusable.has(task)) return;
    this.unusable.add(task);
    this.emitError(
      `task "${task}" cannot run on this worker, which stops claiming it (fix the tasks module and restart the worker)`,
      new Error(message),
    );
    void this.reportStats();
  }

  private async reportStats(): Promise<void> {
    const stats: Json = {
      running: this.running.size - this.buffer.length,
      prefetched: this.buffer.length,
      slotsInUse: this.slots.inUse,
      eventLoopDelayMs: this.eventLoopDelay(),
      tasks: [...this.options.tasks.keys()].filter((t) => !this.unusable.has(t)),
    };
    await this.options.store.workerHeartbeat(this.workerId, stats).catch(() => undefined);
  }

  private emitError(message: string, error: unknown): void {
    this.emit('event', { type: 'error', message, error } satisfies WorkerEvent);
  }
}

function taskSummary(t: TaskDefinition): Json {
  const o = t.options;
  return { kind: o.kind, isolation: o.isolation, timeoutMs: o.timeoutMs, maxAttempts: o.retry.maxAttempts, retry: { ...o.retry }, deadlineMs: o.deadlineMs, concurrency: o.concurrency };
}
