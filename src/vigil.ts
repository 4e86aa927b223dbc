import { resolve } from 'node:path';
import { JobNotFoundError, UsageError, VigilError } from './errors.js';
import type { Store } from './store/contract.js';
import { openStore } from './store/open.js';
import { DEFAULTS, type TaskDefinition } from './task/define.js';
import { parseDuration, type Duration } from './task/duration.js';
import { loadTasks, requireTask, type TaskMap } from './task/registry.js';
import { Worker, type WorkerOptions } from './engine/worker.js';
import { waitForJobs, isTerminal } from './engine/waiter.js';
import { ThreadExecutor } from './executors/thread-executor.js';
import { ProcessExecutor } from './executors/process-executor.js';
import { CommandExecutor } from './executors/command-executor.js';
import type { Attempt, Job, JobState, Json, LogLine, RetryPolicy } from './types.js';

export interface VigilOptions {
  /** A store URL (`sqlite:./vigil.db`, `./jobs.db`, `postgres://…`) or an open Store. */
  store: string | Store;
  /** Path of the tasks module; needed to run workers and to check task names and options at submit. */
  tasks?: string;
  /** Largest accepted input, serialized. Default 1 MiB. */
  maxPayloadBytes?: number;
}

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
  private closed = false;

  private constructor(
    readonly store: Store,
    private readonly ownsStore: boolean,
    private readonly tasks: TaskMap | null,
    private readonly tasksModule: string | null,
    private readonly maxPayloadBytes: number,
  ) {}

  static async open(options: VigilOptions): Promise<Vigil> {
    const tasksModule = options.tasks ? resolve(options.tasks) : null;
    // Load the tasks first: a broken module must not leave a half-opened store behind.
    const tasks = tasksModule ? await loadTasks(tasksModule) : null;
    const store = typeof options.store === 'string' ? await openStore(options.store) : options.store;
    return new Vigil(store, typeof options.store === 'string', tasks, tasksModule, options.maxPayloadBytes ?? 1024 * 1024);
  }

  async submit<I = Json>(task: string | TaskDefinition<I, unknown>, input: I, options: SubmitOptions = {}): Promise<Job> {
    this.checkOpen();
    const name = typeof task === 'string' ? task : task.options.name;
    const { retry, deadlineMs } = await this.taskPolicy(name);
    const payload = this.checkInput(name, input);
    const [result] = await this.store.enqueue([
      {
        task: name,
        input: payload,
        retry,
        deadlineMs,
        priority: options.priority ?? 0,
        delayMs: options.delay === undefined ? 0 : parseDuration(options.delay, 'delay'),
        idempotencyKey: options.key ?? null,
      },
    ]);
    return result!.job;
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
    const jobs = inputs.map((input, index) => {
      let payload: Json;
      try {
        payload = this.checkInput(name, input);
      } catch (err) {
        if (err instanceof VigilError) throw new UsageError(err.code, `item ${index} of ${inputs.length}: ${err.message}; nothing was submitted`, { cause: err });
        throw err;
      }
      return { task: name, input: payload, retry, deadlineMs, priority: options.priority ?? 0, delayMs, idempotencyKey: null };
    });
    if (jobs.length === 0) return [];
    return (await this.store.enqueue(jobs)).map((r) => r.job);
  }

  async get(id: string): Promise<Job> {
    const job = await this.store.get(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  /** Resolves with the job once it is succeeded, failed or cancelled. */
  async wait(id: string, options: { timeout?: Duration; signal?: AbortSignal } = {}): Promise<Job> {
    await this.get(id);
    const signals = [options.signal, options.timeout === undefined ? undefined : AbortSignal.timeout(parseDuration(options.timeout, 'timeout'))].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    try {
      return await waitForJobs(this.store, [id], (jobs) => (jobs[0] && isTerminal(jobs[0]) ? jobs[0] : undefined), {
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        throw new VigilError('VIGIL_WAIT_TIMEOUT', `job ${id} did not finish within ${options.timeout}; it keeps running (check with vigil status ${id})`, { cause: err });
      }
      throw err;
    }
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

  /** A worker in this process. Its task code runs in executor threads and processes, never here. */
  async startWorker(options: StartWorkerOptions = {}): Promise<Worker> {
    this.checkOpen();
    if (!this.tasks || !this.tasksModule) {
      throw new UsageError('VIGIL_USAGE', 'a worker needs the tasks module: Vigil.open({ store, tasks: "./tasks.ts" })');
    }
    const executors = {
      thread: options.executors?.thread ?? new ThreadExecutor(),
      process: options.executors?.process ?? new ProcessExecutor(),
      command: options.executors?.command ?? new CommandExecutor(),
    };
    // The worker tells its owner when it has stopped: the executors made here are closed with it.
    const worker: Worker = new Worker({
      ...options,
      store: this.store,
      tasks: this.tasks,
      tasksModule: this.tasksModule,
      executors,
      onClose: async () => {
        await Promise.all(Object.values(executors).map((e) => e.close()));
        this.workers.delete(worker);
        await options.onClose?.();
      },
    });
    await worker.start();
    this.workers.add(worker);
    return worker;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const w of [...this.workers]) await w.stop();
    this.closed = true;
    if (this.ownsStore) await this.store.close();
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
        `unknown task "${name}": no tasks module was given and no worker of this store has announced it (pass --tasks <module>, or start a worker first)`,
      );
    }
    const o = known.options as { retry?: RetryPolicy; deadlineMs?: number | null };
    return {
      retry: o.retry ?? { maxAttempts: DEFAULTS.retries + 1, backoffMs: DEFAULTS.backoffMs, factor: DEFAULTS.factor, maxDelayMs: DEFAULTS.maxDelayMs, jitter: DEFAULTS.jitter },
      deadlineMs: o.deadlineMs ?? null,
    };
  }

  private checkInput(task: string, input: unknown): Json {
    let text: string | undefined;
    try {
      text = JSON.stringify(input);
    } catch (err) {
      throw new UsageError('VIGIL_INVALID_INPUT', `input of task "${task}" is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
    }
    if (text === undefined) throw new UsageError('VIGIL_INVALID_INPUT', `input of task "${task}" is not JSON (got ${typeof input})`);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxPayloadBytes) {
      throw new UsageError('VIGIL_PAYLOAD_TOO_LARGE', `input of task "${task}" is ${bytes} bytes, over the limit of ${this.maxPayloadBytes} (pass a file path or URL instead of the data)`);
    }
    return JSON.parse(text) as Json;
  }
}
