import { resolve } from 'node:path';
import { JobNotFoundError, UsageError, VigilError } from './errors.js';
import type { NewFreeze, NewJob, Store } from './store/contract.js';
import type { ServeOptions, VigilServer } from './server/server.js';
import { openStore } from './store/open.js';
import { DEFAULTS, type TaskDefinition } from './task/define.js';
import { formatDuration, parseDuration, type Duration } from './task/duration.js';
import { PayloadError } from './task/payload.js';
import { loadTasks, requireTask, type TaskMap } from './task/registry.js';
import { servingStatus } from './task/serving.js';
import { validateInput } from './task/validate.js';
import { checkOptionKeys } from './task/option-keys.js';
import type { Worker, WorkerOptions } from './engine/worker.js';
import { waitForJobs, isTerminal } from './engine/waiter.js';
import type { Attempt, Job, JobState, Json, LogLine, RetryPolicy } from './types.js';
import type { AlertListener, OpsAlert } from './ops/alerts.js';
import type { TakenSnapshot } from './forensics/snapshot-request.js';
import type { ExplainOptions, WhyAnswer } from './why/explain.js';

export interface VigilOptions {
  /** A store URL (`sqlite:./vigil.db`, `./jobs.db`, `postgres://…`) or an open Store. */
  store: string | Store;
  /** Path of the tasks module; needed to run workers and to check task names and options at submit. */
  tasks?: string;
  /** Largest accepted input, serialized. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** false: fail (VIGIL_STORE_NOT_FOUND) when the store does not exist yet instead of creating it. Default true. */
  create?: boolean;
}

/** What `wait` does while the job waits: `onNoWorker` hears, at once and then every 10 s, when no live worker serves it. */
export interface WaitOptions {
  timeout?: Duration;
  signal?: AbortSignal;
  /**
   * Called when the job is queued and no live worker can run it (none runs, or none serves its task), at once and
   * again every 10 s while that lasts. Default: process.emitWarning (code VIGIL_NO_WORKER). Pass `() => {}` to mute.
   */
  onNoWorker?: (message: string) => void;
}

/** How often `wait` repeats that nobody serves the job. */
const NO_WORKER_REPEAT_MS = 10_000;
const NO_WORKER_FIRST_CHECK_MS = 250;

/** Resolves after `ms`, or at once when `stop` aborts. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // One listener per pause, removed when the pause ends: a wait of hours must not pile them up.
    const onStop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      stop.removeEventListener('abort', onStop);
      resolve();
    }, ms);
    stop.addEventListener('abort', onStop, { once: true });
  });
}

// Records over keyof, not lists: an option added to an interface fails to compile here until it is accepted too.
const OPEN_KEYS = Object.keys({ store: 1, tasks: 1, maxPayloadBytes: 1, create: 1 } satisfies Record<keyof VigilOptions, 1>);
const SUBMIT_KEYS = Object.keys({ key: 1, priority: 1, delay: 1 } satisfies Record<keyof SubmitOptions, 1>);
const WAIT_KEYS = Object.keys({ timeout: 1, signal: 1, onNoWorker: 1 } satisfies Record<keyof WaitOptions, 1>);
const WORKER_KEYS = Object.keys({
  concurrency: 1,
  prefetch: 1,
  leaseMs: 1,
  drainMs: 1,
  pollMs: 1,
  captureBudgetMs: 1,
  workerId: 1,
  executors: 1,
  rootJobId: 1,
  clock: 1,
  storeRetry: 1,
  onClose: 1,
  keep: 1,
  watchdog: 1,
} satisfies Record<keyof StartWorkerOptions, 1>);

export interface SubmitOptions {
  /** Idempotency key: a second submit with the same key returns the first job. */
  key?: string;
  priority?: number;
  /** Run no earlier than this from now. */
  delay?: Duration;
}

export type StartWorkerOptions = Omit<WorkerOptions, 'store' | 'tasks' | 'tasksModule' | 'executors'> & {
  executors?: Partial<WorkerOptions['executors']>;
};

/** The TypeScript API: submit and observe jobs, and run workers, against one store. */
export class Vigil {
  private readonly workers = new Set<Worker>();
  private readonly alertListeners = new Set<AlertListener>();
  private closed = false;

  private constructor(
    readonly store: Store,
    private readonly ownsStore: boolean,
    private readonly tasks: TaskMap | null,
    private readonly tasksModule: string | null,
    private readonly maxPayloadBytes: number,
  ) {}

  static async open(options: VigilOptions): Promise<Vigil> {
    checkOptionKeys('Vigil.open', options, OPEN_KEYS);
    if (options.maxPayloadBytes !== undefined && !(Number.isInteger(options.maxPayloadBytes) && options.maxPayloadBytes > 0)) {
      throw new UsageError('VIGIL_USAGE', `Vigil.open: "maxPayloadBytes" must be a positive integer (got ${JSON.stringify(options.maxPayloadBytes)})`);
    }
    const tasksModule = options.tasks ? resolve(options.tasks) : null;
    // Load the tasks first: a broken module must not leave a half-opened store behind.
    const tasks = tasksModule ? await loadTasks(tasksModule) : null;
    const store = typeof options.store === 'string' ? await openStore(options.store, { create: options.create }) : options.store;
    return new Vigil(store, typeof options.store === 'string', tasks, tasksModule, options.maxPayloadBytes ?? 1024 * 1024);
  }

  async submit<I = Json>(task: string | TaskDefinition<I, unknown>, input: I, options: SubmitOptions = {}): Promise<Job> {
    this.checkOpen();
    checkOptionKeys('submit', options, SUBMIT_KEYS);
    const name = typeof task === 'string' ? task : task.options.name;
    if (options.priority !== undefined && !Number.isSafeInteger(options.priority)) {
      throw new UsageError('VIGIL_INVALID_INPUT', `submit: "priority" must be an integer (got ${JSON.stringify(options.priority)})`);
    }
    if (options.key !== undefined && (typeof options.key !== 'string' || options.key === '')) {
      throw new UsageError('VIGIL_INVALID_INPUT', `submit: "key" must be a non-empty string (got ${JSON.stringify(options.key)})`);
    }
    const delayMs = options.delay === undefined ? 0 : parseDuration(options.delay, 'submit: "delay"');
    // The input first: a definition passed here brings its schema even when no tasks module was opened.
    const given = typeof task === 'string' ? undefined : (task as unknown as TaskDefinition);
    const payload = await this.checkInput(name, this.tasks?.get(name) ?? given, input);
    const { retry, deadlineMs } = await this.taskPolicy(name);
    const [result] = await this.store.enqueue([
      {
        task: name,
        input: payload,
        retry,
        deadlineMs,
        priority: options.priority ?? 0,
        delayMs,
        idempotencyKey: options.key ?? null,
      },
    ]);
    return result!.job;
  }

  /**
   * A submit checked and turned into its stored form without storing it: the task is known, the input is JSON
   * within the size limit, the retry policy and deadline come from the task. Pass the results to
   * `store.enqueue([...])` (one transaction for many; the HTTP API batches concurrent submits this way).
   */
  async prepareJob(task: string, input: unknown, options: SubmitOptions = {}): Promise<NewJob> {
    this.checkOpen();
    const { retry, deadlineMs } = await this.taskPolicy(task);
    return {
      task,
      input: await this.checkInput(task, this.tasks?.get(task), input),
      retry,
      deadlineMs,
      priority: options.priority ?? 0,
      delayMs: options.delay === undefined ? 0 : parseDuration(options.delay, 'delay'),
      idempotencyKey: options.key ?? null,
    };
  }

  /**
   * Serves the HTTP API and the dashboard (and, unless `worker: false`, runs a worker) in this process. Resolves
   * once listening; `close()` stops accepting, ends live streams and drains the worker.
   */
  async serve(options: ServeOptions = {}): Promise<VigilServer> {
    this.checkOpen();
    // Loaded on first use: task threads import this module for defineTask and must not pay for Fastify and pino.
    const { startServer } = await import('./server/server.js');
    const worker = options.worker === false ? null : await this.startWorker(options.worker === true || options.worker === undefined ? {} : options.worker);
    try {
      return await startServer({ ...options, vigil: this, store: this.store, worker });
    } catch (err) {
      await worker?.stop({ drainMs: 0 }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Submits one job of `task` per input in ONE transaction (in order; the jobs are returned in the same order).
   * Every input is checked before anything is written: one bad input stores nothing, and the error names its index.
   */
  async submitMany<I = Json>(task: string | TaskDefinition<I, unknown>, inputs: readonly I[], options: Omit<SubmitOptions, 'key'> = {}): Promise<Job[]> {
    this.checkOpen();
    const name = typeof task === 'string' ? task : task.options.name;
    const { retry, deadlineMs } = await this.taskPolicy(name);
    const delayMs = options.delay === undefined ? 0 : parseDuration(options.delay, 'delay');
    const given = typeof task === 'string' ? undefined : (task as unknown as TaskDefinition);
    const jobs: NewJob[] = [];
    for (const [index, input] of inputs.entries()) {
      let payload: Json;
      try {
        payload = await this.checkInput(name, this.tasks?.get(name) ?? given, input);
      } catch (err) {
        if (err instanceof VigilError) throw new UsageError(err.code, `item ${index} of ${inputs.length}: ${err.message}; nothing was submitted`, { cause: err });
        throw err;
      }
      jobs.push({ task: name, input: payload, retry, deadlineMs, priority: options.priority ?? 0, delayMs, idempotencyKey: null });
    }
    if (jobs.length === 0) return [];
    return (await this.store.enqueue(jobs)).map((r) => r.job);
  }

  async get(id: string): Promise<Job> {
    const job = await this.store.get(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  /** Resolves with the job once it is succeeded, failed or cancelled. */
  async wait(id: string, options: WaitOptions = {}): Promise<Job> {
    checkOptionKeys('wait', options, WAIT_KEYS);
    const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'wait: "timeout"');
    const job = await this.get(id);
    if (isTerminal(job)) return job;
    const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const done = new AbortController();
    const onNoWorker = options.onNoWorker ?? ((message: string) => process.emitWarning(message, { code: 'VIGIL_NO_WORKER' }));
    const watching = this.watchServing(id, job.task, onNoWorker, done.signal);
    try {
      return await waitForJobs(this.store, [id], (jobs) => (jobs[0] && isTerminal(jobs[0]) ? jobs[0] : undefined), {
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      if (timeout?.aborted && !options.signal?.aborted) {
        const now = await this.store.get(id).catch(() => null);
        throw new VigilError(
          'VIGIL_WAIT_TIMEOUT',
          `job ${id} did not finish within ${formatDuration(timeoutMs!)} (it is ${now?.state ?? 'unknown'}; it keeps going: check with vigil status ${id})`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      done.abort();
      await watching;
    }
  }

  /**
   * While `id` is queued, tells `report` when no live worker can run it: at once, then every NO_WORKER_REPEAT_MS.
   * A waiter that says nothing while nobody will ever run its job is the silent hang Vigil exists to prevent.
   */
  private async watchServing(id: string, task: string, report: (message: string) => void, stop: AbortSignal): Promise<void> {
    // Not at the very start: most waits end within a moment, and the check's reads (the job, the live workers, their
    // tasks) ran on the loop an embedded worker claims from, in the moment it claims (~0.5 ms of the enqueue→start
    // latency of a short job). A queued job nobody can run is still reported within a quarter of a second.
    await pause(NO_WORKER_FIRST_CHECK_MS, stop);
    while (!stop.aborted) {
      try {
        const job = await this.store.get(id);
        if (!job || isTerminal(job)) return;
        if (job.state === 'queued') {
          const { warning } = await servingStatus(this.store, task);
          if (warning && !stop.aborted) report(`job ${id} is queued and will not start: ${warning}`);
        }
      } catch {
        // A failed check only delays the warning; the wait itself reports store errors.
      }
      await pause(NO_WORKER_REPEAT_MS, stop);
    }
  }

  /** Why a queued job of `task` would not start (no live worker serves it), or null when some worker can run it. */
  async noWorkerWarning(task: string): Promise<string | null> {
    return (await servingStatus(this.store, task)).warning;
  }

  /** Cancels a job and its subtree; a running attempt is aborted and killed. */
  async cancel(id: string, reason = 'cancelled by request'): Promise<Job> {
    await this.get(id);
    const [job] = await this.store.cancel([id], reason);
    return job!;
  }

  async retry(id: string): Promise<Job> {
    await this.get(id);
    return this.store.retry(id);
  }

  /**
   * A hang report of the job's running attempt taken WITHOUT stopping it, stored on the attempt as its snapshot:
   * asks the worker holding the lease (it answers at its next lease renewal, within about a second) and waits up to
   * timeoutMs (default 10 s). Throws VIGIL_INVALID_STATE when the job is not running, VIGIL_SNAPSHOT_TIMEOUT when no
   * worker answered in time.
   */
  async snapshot(id: string, options: { timeoutMs?: number } = {}): Promise<TakenSnapshot> {
    const { requestSnapshot } = await import('./forensics/snapshot-request.js');
    return requestSnapshot(this.store, id, options);
  }

  list(filter: { state?: JobState; task?: string; parentId?: string | null; limit?: number } = {}): Promise<Job[]> {
    return this.store.list(filter);
  }

  children(id: string): Promise<Job[]> {
    return this.store.children(id);
  }

  async attempts(id: string): Promise<Attempt[]> {
    await this.get(id);
    return this.store.attempts(id);
  }

  logs(id: string, options?: { afterSeq?: number; limit?: number; attempt?: number; tail?: boolean }): Promise<LogLine[]> {
    return this.store.logs(id, options);
  }

  /**
   * Why the job is not running or not finished: one cause (queued behind N jobs, a concurrency cap held by jobs
   * X, Y, no live worker, a retry backoff, a rate limit or pause, a lost lease), or for a parent the same answer
   * for each unfinished child, down the wait-for graph.
   */
  async why(id: string, options: Omit<ExplainOptions, 'tasks'> = {}): Promise<WhyAnswer> {
    const { explainJob } = await import('./why/explain.js');
    return explainJob(this.store, id, { ...options, tasks: this.tasks });
  }

  /** A worker in this process. Its task code runs in executor threads and processes, never here. */
  async startWorker(options: StartWorkerOptions = {}): Promise<Worker> {
    this.checkOpen();
    checkOptionKeys('startWorker', options, WORKER_KEYS);
    if (!this.tasks || !this.tasksModule) {
      throw new UsageError('VIGIL_USAGE', 'a worker needs the tasks module: Vigil.open({ store, tasks: "./tasks.ts" })');
    }
    const { Worker, ThreadExecutor, ProcessExecutor, CommandExecutor, freezeAlert, watchAlerts } = await workerModules();
    const executors = {
      thread: options.executors?.thread ?? new ThreadExecutor(),
      process: options.executors?.process ?? new ProcessExecutor(),
      command: options.executors?.command ?? new CommandExecutor(),
    };
    const watchdog = {
      ...options.watchdog,
      onFreeze: (freeze: NewFreeze) => {
        options.watchdog?.onFreeze?.(freeze);
        this.emitAlert(freezeAlert(freeze));
      },
    };
    // The worker tells its owner when it has stopped: the executors made here are closed with it, and its alerts
    // are no longer watched.
    const worker: Worker = new Worker({
      ...options,
      watchdog,
      store: this.store,
      tasks: this.tasks,
      tasksModule: this.tasksModule,
      executors,
      onClose: async () => {
        unwatch();
        await Promise.all(Object.values(executors).map((e) => e.close()));
        this.workers.delete(worker);
        await options.onClose?.();
      },
    });
    const unwatch = watchAlerts(worker, this.store, (alert) => this.emitAlert(alert), { wanted: () => this.alertListeners.size > 0 });
    await worker.start();
    this.workers.add(worker);
    return worker;
  }

  /**
   * Alerts from this instance's workers: an attempt that hung (timeout, stalled, oom; with its hang report), another
   * worker of the store lost, this process's supervisor frozen. Listeners run on the supervisor's loop: keep them
   * short and never throw (a throwing listener is ignored). Returns a function that removes the listener.
   */
  onHang(listener: (alert: OpsAlert) => void): () => void {
    this.alertListeners.add(listener);
    return () => {
      this.alertListeners.delete(listener);
    };
  }

  private emitAlert(alert: OpsAlert): void {
    for (const l of [...this.alertListeners]) {
      try {
        l(alert);
      } catch {
        // An alert sink's bug must not reach the engine.
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const w of [...this.workers]) await w.stop();
    this.closed = true;
    if (this.ownsStore) await this.store.close();
  }

  /** The largest accepted input, serialized (VigilOptions.maxPayloadBytes). */
  get maxInputBytes(): number {
    return this.maxPayloadBytes;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', 'this Vigil instance is closed');
  }

  private async taskPolicy(name: string): Promise<{ retry: RetryPolicy; deadlineMs: number | null }> {
    if (this.tasks) {
      const def = requireTask(this.tasks, name, this.tasksModule ?? undefined);
      return { retry: def.options.retry, deadlineMs: def.options.deadlineMs };
    }
    const known = (await this.store.knownTasks()).find((t) => t.name === name);
    if (!known) {
      throw new UsageError(
        'VIGIL_UNKNOWN_TASK',
        `unknown task "${name}": no tasks module was given and no worker of this store has announced it (give the tasks module: Vigil.open({ tasks }) or --tasks <module>; or start a worker first)`,
      );
    }
    const o = known.options as { retry?: RetryPolicy; deadlineMs?: number | null };
    return {
      retry: o.retry ?? { maxAttempts: DEFAULTS.retries + 1, backoffMs: DEFAULTS.backoffMs, factor: DEFAULTS.factor, maxDelayMs: DEFAULTS.maxDelayMs, jitter: DEFAULTS.jitter },
      deadlineMs: o.deadlineMs ?? null,
    };
  }

  private async checkInput(task: string, def: TaskDefinition | undefined, input: unknown): Promise<Json> {
    let payload: Json;
    try {
      payload = await validateInput(task, def, input);
    } catch (err) {
      if (err instanceof PayloadError) throw new UsageError('VIGIL_INVALID_INPUT', `input of task "${task}": ${err.message}`, { cause: err });
      throw err;
    }
    const text = JSON.stringify(payload);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxPayloadBytes) {
      throw new UsageError('VIGIL_PAYLOAD_TOO_LARGE', `input of task "${task}" is ${bytes} bytes, over the limit of ${this.maxPayloadBytes} bytes (pass a file path or URL instead of the data)`);
    }
    return payload;
  }
}

/**
 * What a worker needs, loaded when the first worker starts: every task thread imports this module (through
 * `import { defineTask } from 'vigil'`), and the engine, executors and forensics it would load statically cost each
 * thread ~5 MiB (from dist; ~9 MiB from source through tsx) and its start-up time (bench/NOTES.md, execperf).
 */
async function workerModules() {
  const [worker, thread, proc, command, alerts] = await Promise.all([
    import('./engine/worker.js'),
    import('./executors/thread-executor.js'),
    import('./executors/process-executor.js'),
    import('./executors/command-executor.js'),
    import('./ops/alerts.js'),
  ]);
  return {
    Worker: worker.Worker,
    ThreadExecutor: thread.ThreadExecutor,
    ProcessExecutor: proc.ProcessExecutor,
    CommandExecutor: command.CommandExecutor,
    freezeAlert: alerts.freezeAlert,
    watchAlerts: alerts.watchAlerts,
  };
}
