import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Claimed, Store } from '../store/contract.js';
import type { TaskDefinition } from '../task/define.js';
import type { TaskMap } from '../task/registry.js';
import type { Executor } from '../executors/types.js';
import { ActivityBatcher } from './log-batcher.js';
import { Watchdog, type WatchdogOptions } from './watchdog.js';
import { Slots } from './slots.js';
import { AttemptSupervisor, type SupervisorEvent } from './supervise.js';
import type { Json } from '../types.js';

export interface WorkerOptions {
  store: Store;
  tasks: TaskMap;
  /** Absolute path of the tasks module (executors load it by path). */
  tasksModule: string;
  /** Slots: attempts running at once (parents waiting on children do not count). Default 4. */
  concurrency?: number;
  /** Lease length; renewed every leaseMs/3 (at most every second). Default 30s. */
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
  /** The supervisor's self-watchdog (G8): freeze threshold, stack capture, restart-on-freeze. */
  watchdog?: Omit<WatchdogOptions, 'workerId'>;
}

export type WorkerEvent = SupervisorEvent | { type: 'error'; message: string; error: unknown } | { type: 'idle' };

/**
 * A worker: claims jobs into its slots, supervises each attempt, renews leases, recovers the leases of dead
 * workers, and drains on stop. Task code never runs here (DESIGN G8); this loop only waits.
 */
export class Worker extends EventEmitter {
  readonly workerId: string;
  readonly slots: Slots;
  private readonly running = new Map<string, { sup: AttemptSupervisor; done: Promise<void> }>();
  private readonly batcher: ActivityBatcher;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pendingWake = false;
  private clockOffset = 0;
  private readonly intervals: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | null = null;
  private lastRecovery = 0;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  private storeDownSince: number | null = null;
  private watchdog: Watchdog | null = null;

  constructor(private readonly options: WorkerOptions) {
    super();
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.slots = new Slots(options.concurrency ?? 4);
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? (options.store.crossProcessEvents ? 5_000 : 500);
    this.batcher = new ActivityBatcher(options.store, { onError: (error) => this.emitError('could not write logs/heartbeats', error) });
  }

  /** Doctor calls a worker lost when it has been silent past its lease: it must report more often than that. */
  get reportEveryMs(): number {
    return Math.max(250, Math.min(5_000, this.leaseMs / 3));
  }

  get runningCount(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    const { store } = this.options;
    this.clockOffset = (await store.now()) - Date.now();
    await store.registerWorker({
      workerId: this.workerId,
      hostname: hostname(),
      pid: process.pid,
      concurrency: this.slots.capacity,
      tasks: [...this.options.tasks.values()].map((t) => ({ name: t.options.name, options: taskSummary(t) })),
      leaseMs: this.leaseMs,
      reportEveryMs: this.reportEveryMs,
    });
    this.loopDelay.enable();
    const stallMs = this.options.watchdog?.stallMs ?? Math.max(1_000, Math.min(5_000, this.leaseMs / 3));
    this.watchdog = new Watchdog({ ...this.options.watchdog, stallMs, workerId: this.workerId });
    this.unsubscribe = store.subscribe((event) => {
      if (event.type === 'enqueued') this.poke();
      if (event.type === 'cancelRequested') for (const id of event.jobIds) this.running.get(id)?.sup.cancel();
      if (event.type === 'finished') this.poke();
    });
    this.slots.onRelease(() => this.poke());
    const renewEvery = Math.max(100, Math.min(1_000, this.leaseMs / 3));
    this.intervals.push(setInterval(() => void this.renew(), renewEvery));
    this.intervals.push(setInterval(() => void this.reportStats(), this.reportEveryMs));
    this.loop = this.claimLoop();
  }

  /** Graceful stop: no new claims; running attempts get drainMs to finish; the rest go back to the queue. */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    const drainMs = options.drainMs ?? this.options.drainMs ?? 30_000;
    this.stopping = true;
    this.poke();
    await this.loop;
    const all = [...this.running.values()].map((r) => r.done);
    const drained = await raceTimer(Promise.all(all), drainMs);
    if (!drained) {
      for (const { sup } of this.running.values()) sup.shutdown();
      await Promise.all([...this.running.values()].map((r) => r.done));
    }
    await this.close();
  }

  /** Second signal: stop now. Attempts are killed and returned to the queue uncharged. */
  async forceStop(): Promise<void> {
    this.stopping = true;
    this.poke();
    for (const { sup } of this.running.values()) sup.shutdown();
    await raceTimer(Promise.all([...this.running.values()].map((r) => r.done)), 3_000);
    await this.close();
  }

  private async close(): Promise<void> {
    for (const t of this.intervals) clearInterval(t);
    this.intervals.length = 0;
    this.unsubscribe?.();
    this.loopDelay.disable();
    await this.watchdog?.stop();
    await this.batcher.close();
    await this.options.store.unregisterWorker(this.workerId).catch(() => undefined);
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
    while (!this.stopping) {
      let nextAt: number | null = null;
      try {
        await this.maybeRecover();
        const free = this.slots.free;
        if (free > 0) {
          const limits = this.taskLimits(free);
          if (Object.keys(limits).length > 0) {
            const claimed = await store.claim({ workerId: this.workerId, leaseMs: this.leaseMs, limit: free, tasks: limits, rootJobId: this.options.rootJobId });
            this.storeDownSince = null;
            for (const c of claimed) this.launch(c);
            if (claimed.length === free) continue;
            nextAt = await store.nextRunAt(Object.keys(limits));
          }
        }
      } catch (err) {
        this.storeDownSince ??= Date.now();
        this.emitError('claiming failed; retrying with backoff', err);
        await this.idle(Math.min(5_000, 200 + (Date.now() - this.storeDownSince) / 2));
        continue;
      }
      const until = nextAt === null ? this.pollMs : Math.max(0, nextAt - this.clockOffset - Date.now());
      await this.idle(Math.min(this.pollMs, until));
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.pendingWake || this.stopping) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    this.emit('event', { type: 'idle' } satisfies WorkerEvent);
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        this.pendingWake = false;
        done();
      };
    });
  }

  private taskLimits(free: number): Record<string, number> {
    const limits: Record<string, number> = {};
    const active = new Map<string, number>();
    for (const { sup } of this.running.values()) if (sup.active) active.set(sup.task, (active.get(sup.task) ?? 0) + 1);
    for (const [name, def] of this.options.tasks) {
      const cap = def.options.concurrency;
      const n = cap === null ? free : Math.min(free, cap - (active.get(name) ?? 0));
      if (n > 0) limits[name] = n;
    }
    return limits;
  }

  private launch(claimed: Claimed): void {
    this.slots.take();
    const sup = this.makeSupervisor(claimed);
    const done = sup.run().finally(() => {
      this.running.delete(sup.jobId);
      this.poke();
    });
    this.running.set(sup.jobId, { sup, done });
  }

  private makeSupervisor(claimed: Claimed): AttemptSupervisor {
    const { executors } = this.options;
    return new AttemptSupervisor(claimed, {
      store: this.options.store,
      tasks: this.options.tasks,
      tasksModule: this.options.tasksModule,
      batcher: this.batcher,
      slots: this.slots,
      executorFor: (def: TaskDefinition) => (def.command ? executors.command : def.options.isolation === 'process' ? executors.process : executors.thread),
      clockOffsetMs: () => this.clockOffset,
      captureBudgetMs: this.options.captureBudgetMs ?? 2_000,
      pollMs: this.pollMs,
      onEvent: (event) => this.emit('event', event),
    });
  }

  private async renew(): Promise<void> {
    if (this.running.size === 0) return;
    const fences = [...this.running.values()].map((r) => r.sup.fence);
    try {
      const { lost, cancelRequested } = await this.options.store.renewLeases(this.workerId, fences, this.leaseMs);
      for (const f of lost) this.running.get(f.jobId)?.sup.leaseLost();
      for (const f of cancelRequested) this.running.get(f.jobId)?.sup.cancel();
    } catch (err) {
      // Keep running: if the store comes back before the leases expire nothing is lost; if not, fencing rejects
      // this worker's late results and the jobs are re-run elsewhere.
      this.emitError('lease renewal failed; attempts keep running', err);
    }
  }

  private async maybeRecover(): Promise<void> {
    const every = Math.max(500, Math.min(5_000, this.leaseMs / 2));
    if (Date.now() - this.lastRecovery < every) return;
    this.lastRecovery = Date.now();
    const recovered = await this.options.store.recoverExpired();
    if (recovered.length) this.poke();
  }

  private async reportStats(): Promise<void> {
    const stats: Json = { running: this.running.size, slotsInUse: this.slots.inUse, eventLoopDelayMs: this.eventLoopDelay() };
    await this.options.store.workerHeartbeat(this.workerId, stats).catch(() => undefined);
  }

  private emitError(message: string, error: unknown): void {
    this.emit('event', { type: 'error', message, error } satisfies WorkerEvent);
  }
}

function taskSummary(t: TaskDefinition): Json {
  const o = t.options;
  return { kind: o.kind, isolation: o.isolation, timeoutMs: o.timeoutMs, maxAttempts: o.retry.maxAttempts, retry: { ...o.retry }, deadlineMs: o.deadlineMs };
}

/** True when `work` settled within ms; the timer is cleared either way so it never holds the process open. */
async function raceTimer(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
