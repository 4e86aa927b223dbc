import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Worker, WorkerEvent } from '../engine/worker.js';
import type { NewFreeze, OpsSnapshot, Store } from '../store/contract.js';
import { HANG_OUTCOMES } from './kinds.js';
import { liveness } from './liveness.js';

/** Snapshot reads are shared by all gauges of one scrape, and by scrapes closer together than this. */
const SNAPSHOT_TTL_MS = 1_000;
const HOST_CHANNEL = 'vigil:executor-host';

export interface MetricsOptions {
  /** Default: a new registry of its own (several Vigil instances in one process never clash). */
  registry?: Registry;
  /** Node's default process metrics (CPU, memory, GC, event-loop lag, handles). Default true. */
  defaultMetrics?: boolean;
}

/**
 * Vigil's Prometheus metrics (prom-client). Engine counts come from a Worker's events, store latency from
 * `instrumentStore`, queue and liveness gauges from one store snapshot per scrape, executor hosts from the executors'
 * diagnostics channel. Names are documented in docs/operations.md; they are a contract for alert rules.
 */
export class VigilMetrics {
  readonly registry: Registry;
  private store: Store | null = null;
  private snapshotAt = 0;
  private snapshotPending: Promise<OpsSnapshot | null> | null = null;
  private readonly workers = new Set<Worker>();
  private readonly attemptStarts = new Map<string, { task: string; at: number }>();
  private readonly cleanups: Array<() => void> = [];

  readonly attemptsFinished: Counter<'task' | 'outcome'>;
  readonly jobsFinished: Counter<'task' | 'outcome'>;
  readonly attemptDuration: Histogram<'task' | 'outcome'>;
  readonly hangs: Counter<'task' | 'kind'>;
  readonly leaseRenewalsFailed: Counter<'reason'>;
  readonly storeLatency: Histogram<'operation'>;
  readonly storeErrors: Counter<'operation'>;
  readonly hostsForked: Counter<'executor'>;
  readonly hostsKilled: Counter<'executor'>;
  readonly freezes: Counter;
  readonly engineErrors: Counter;

  constructor(options: MetricsOptions = {}) {
    const registry = (this.registry = options.registry ?? new Registry());
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
    const registers = [registry];
    this.attemptsFinished = new Counter({ name: 'vigil_attempts_finished_total', help: 'Attempts ended, by task and outcome (succeeded or an error kind).', labelNames: ['task', 'outcome'], registers });
    this.jobsFinished = new Counter({ name: 'vigil_jobs_finished_total', help: 'Jobs that reached a final state here, by task and the outcome of their last attempt.', labelNames: ['task', 'outcome'], registers });
    this.attemptDuration = new Histogram({
      name: 'vigil_attempt_duration_seconds',
      help: 'Attempt duration from start to recorded outcome, by task and outcome.',
      labelNames: ['task', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.hangs = new Counter({ name: 'vigil_hangs_total', help: 'Attempts killed because they hung: timeout, stalled (no heartbeat or output) or oom.', labelNames: ['task', 'kind'], registers });
    this.leaseRenewalsFailed = new Counter({ name: 'vigil_lease_renewals_failed_total', help: 'Lease renewals that failed (reason="error": the store call failed; reason="lost": the lease was already gone).', labelNames: ['reason'], registers });
    this.storeLatency = new Histogram({
      name: 'vigil_store_operation_duration_seconds',
      help: 'Store operation latency, by operation.',
      labelNames: ['operation'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.storeErrors = new Counter({ name: 'vigil_store_operation_errors_total', help: 'Store operations that threw, by operation.', labelNames: ['operation'], registers });
    this.hostsForked = new Counter({ name: 'vigil_executor_hosts_forked_total', help: 'Executor processes started (thread hosts and attempt processes).', labelNames: ['executor'], registers });
    this.hostsKilled = new Counter({ name: 'vigil_executor_hosts_killed_total', help: 'Executor processes SIGKILLed (to end a hung attempt, or on shutdown).', labelNames: ['executor'], registers });
    this.freezes = new Counter({ name: 'vigil_supervisor_freezes_total', help: "Times the watchdog found this process's supervisor event loop frozen.", registers });
    this.engineErrors = new Counter({ name: 'vigil_worker_errors_total', help: 'Errors the worker recovered from (store calls that failed and were retried).', registers });

    const self = this;
    new Gauge({
      name: 'vigil_attempts_running',
      help: 'Attempts running in this process (parents waiting on children included).',
      registers,
      collect() {
        this.set([...self.workers].reduce((n, w) => n + w.runningCount, 0));
      },
    });
    new Gauge({
      name: 'vigil_slots_free',
      help: 'Free concurrency slots of the workers in this process.',
      registers,
      collect() {
        this.set([...self.workers].reduce((n, w) => n + w.slots.idle, 0));
      },
    });
    new Gauge({
      name: 'vigil_slots',
      help: 'Concurrency slots of the workers in this process.',
      registers,
      collect() {
        this.set([...self.workers].reduce((n, w) => n + w.slots.capacity, 0));
      },
    });
    new Gauge({
      name: 'vigil_supervisor_event_loop_delay_seconds',
      help: "The supervisor's event-loop delay since the worker started (stat = p50, p99, max); G8 says it stays small.",
      labelNames: ['stat'],
      registers,
      collect() {
        this.reset();
        for (const w of self.workers) {
          const d = w.eventLoopDelay();
          this.set({ stat: 'p50' }, d.p50 / 1000);
          this.set({ stat: 'p99' }, d.p99 / 1000);
          this.set({ stat: 'max' }, d.max / 1000);
        }
      },
    });
    // Store-wide gauges: every process exporting them reports the same values (use max() across instances).
    new Gauge({
      name: 'vigil_store_up',
      help: 'Whether the last snapshot read from the store succeeded (1) or not (0).',
      registers,
      async collect() {
        this.set((await self.snapshot()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vigil_queue_depth',
      help: 'Queued jobs per task (state="runnable": runAt passed; state="delayed": waiting for a retry or a delay).',
      labelNames: ['task', 'state'],
      registers,
      async collect() {
        const s = await self.snapshot();
        this.reset();
        for (const q of s?.queues ?? []) {
          this.set({ task: q.task, state: 'runnable' }, q.runnable);
          this.set({ task: q.task, state: 'delayed' }, q.queued - q.runnable);
        }
      },
    });
    new Gauge({
      name: 'vigil_queue_oldest_age_seconds',
      help: 'Age of the oldest runnable queued job per task (0 when none waits).',
      labelNames: ['task'],
      registers,
      async collect() {
        const s = await self.snapshot();
        this.reset();
        for (const q of s?.queues ?? []) this.set({ task: q.task }, q.oldestRunnableAt === null ? 0 : Math.max(0, s!.now - q.oldestRunnableAt) / 1000);
      },
    });
    new Gauge({
      name: 'vigil_jobs_running',
      help: 'Running jobs per task, across all workers of the store.',
      labelNames: ['task'],
      registers,
      async collect() {
        const s = await self.snapshot();
        this.reset();
        for (const q of s?.queues ?? []) this.set({ task: q.task }, q.running);
      },
    });
    new Gauge({
      name: 'vigil_workers',
      help: 'Workers registered in the store by liveness (state="live" or "lost": silent past its lease).',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await self.snapshot();
        this.reset();
        if (!s) return;
        let live = 0;
        let lost = 0;
        for (const w of s.workers) liveness(w, s.now).state === 'live' ? live++ : lost++;
        this.set({ state: 'live' }, live);
        this.set({ state: 'lost' }, lost);
      },
    });
    new Gauge({
      name: 'vigil_expired_leases',
      help: 'Running jobs whose lease expired (their worker died or froze) and that no worker has recovered yet.',
      registers,
      async collect() {
        const s = await self.snapshot();
        this.set(s?.expiredLeases.length ?? 0);
      },
    });
    new Gauge({
      name: 'vigil_jobs_past_deadline',
      help: 'Queued or running jobs whose deadline has passed.',
      registers,
      async collect() {
        const s = await self.snapshot();
        this.set(s?.pastDeadline.length ?? 0);
      },
    });

    const onHost = (message: unknown): void => {
      const m = message as { event?: string; executor?: string };
      if (m.event === 'forked') this.hostsForked.inc({ executor: m.executor ?? 'unknown' });
      if (m.event === 'killed') this.hostsKilled.inc({ executor: m.executor ?? 'unknown' });
    };
    subscribe(HOST_CHANNEL, onHost);
    this.cleanups.push(() => unsubscribe(HOST_CHANNEL, onHost));
  }

  /** Queue, liveness and lease gauges read this store (one snapshot per scrape). */
  observeStore(store: Store): this {
    this.store = store;
    return this;
  }

  /** Counts a Worker's attempts, outcomes, hangs and errors from its events. Returns an unsubscribe function. */
  observeWorker(worker: Worker): () => void {
    this.workers.add(worker);
    const onEvent = (event: WorkerEvent): void => this.onWorkerEvent(event);
    worker.on('event', onEvent);
    const off = (): void => {
      worker.off('event', onEvent);
      this.workers.delete(worker);
    };
    this.cleanups.push(off);
    return off;
  }

  /** A store whose every operation is timed (and renewals' lost leases counted) into these metrics. */
  instrumentStore(store: Store): Store {
    return instrumentStore(store, this);
  }

  recordFreeze(_freeze: NewFreeze): void {
    this.freezes.inc();
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const c of this.cleanups.splice(0)) c();
  }

  private onWorkerEvent(event: WorkerEvent): void {
    if (event.type === 'started') {
      this.attemptStarts.set(`${event.jobId}:${event.attempt}`, { task: event.task, at: performance.now() });
    } else if (event.type === 'finished') {
      // `finished` carries no task name: it comes from `started` (the map holds running attempts only).
      const key = `${event.jobId}:${event.attempt}`;
      const start = this.attemptStarts.get(key);
      this.attemptStarts.delete(key);
      const task = start?.task ?? 'unknown';
      this.attemptsFinished.inc({ task, outcome: event.outcome });
      if (start) this.attemptDuration.observe({ task, outcome: event.outcome }, (performance.now() - start.at) / 1000);
      if (HANG_OUTCOMES.has(event.outcome)) this.hangs.inc({ task, kind: event.outcome });
      if (event.recorded && (event.outcome === 'succeeded' || !event.retrying)) this.jobsFinished.inc({ task, outcome: event.outcome });
    } else if (event.type === 'error') {
      this.engineErrors.inc();
    }
  }

  private snapshot(): Promise<OpsSnapshot | null> {
    const store = this.store;
    if (!store) return Promise.resolve(null);
    if (this.snapshotPending && Date.now() - this.snapshotAt < SNAPSHOT_TTL_MS) return this.snapshotPending;
    this.snapshotAt = Date.now();
    // sinceMs = now: the gauges need no hang or freeze history, and the store then scans none.
    this.snapshotPending = store.opsSnapshot({ sinceMs: Date.now(), limit: 1_000 }).catch(() => null);
    return this.snapshotPending;
  }
}

/** Operations the engine's hot paths use; the rest are timed too but matter less. */
const TIMED = new Set<string>([
  'now', 'enqueue', 'claim', 'nextRunAt', 'renewLeases', 'recordActivity', 'appendLogs', 'finishAttempt', 'recoverExpired',
  'cancel', 'retry', 'get', 'getMany', 'list', 'children', 'attempts', 'logs', 'counts', 'registerWorker', 'workerHeartbeat',
  'unregisterWorker', 'listWorkers', 'knownTasks', 'opsSnapshot', 'recordFreeze',
]);

/**
 * Wraps a store so each operation's latency and failures are observed. Everything else (subscribe, close,
 * properties) passes through untouched, so the wrapper is a drop-in Store for Vigil.open.
 */
export function instrumentStore(store: Store, metrics: VigilMetrics): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (typeof prop !== 'string' || !TIMED.has(prop)) return fn.bind(target);
      return async (...args: unknown[]) => {
        const end = metrics.storeLatency.startTimer({ operation: prop });
        try {
          const result = await fn.apply(target, args);
          if (prop === 'renewLeases') {
            const lost = (result as { lost?: unknown[] } | undefined)?.lost?.length ?? 0;
            if (lost > 0) metrics.leaseRenewalsFailed.inc({ reason: 'lost' }, lost);
          }
          return result;
        } catch (err) {
          metrics.storeErrors.inc({ operation: prop });
          if (prop === 'renewLeases') metrics.leaseRenewalsFailed.inc({ reason: 'error' });
          throw err;
        } finally {
          end();
        }
      };
    },
  });
}
