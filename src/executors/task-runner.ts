import { format } from 'node:util';
import { ChildrenFailedError } from '../errors.js';
import type { ExecOptions, ExecResult, TaskContext, TaskDefinition, ChildRef } from '../task/define.js';
import { loadTasks, requireTask } from '../task/registry.js';
import { payloadProblem } from '../task/payload.js';
import { serializeError } from '../task/serialize.js';
import type { ChildOutcome, ChildPolicy, Json, LogStream, Progress, SerializedError } from '../types.js';
import { cutLogLine } from '../log-line.js';
import { Throttle } from './throttle.js';
import { type DiagnoseReply, type RunnerInbound, type RunnerOutbound } from './ipc.js';
import type { AllRequest, AttemptEnd, AttemptSpec, SpawnRequest, SpawnedChild } from './types.js';

/**
 * Runs attempts inside a worker thread or an attempt process: loads the tasks module, builds `ctx`, runs the task
 * and reports. One attempt at a time; the code around it (thread-entry, process-entry) supplies the port.
 */

export interface RunnerPort {
  post(message: RunnerOutbound): void;
  onMessage(handler: (message: RunnerInbound) => void): void;
}

export interface RunnerHooks {
  /** Called after the task settled, before the end is posted (thread mode writes its stdout markers here). */
  beforeEnd?(key: string): void;
  /** Called after the end was posted. */
  afterEnd?(key: string, end: AttemptEnd): void;
  /** Called when a `warm` request is done (the tasks module loaded, or failed to). */
  warmed?(): void;
}

export function serveRunner(port: RunnerPort, hooks: RunnerHooks = {}): void {
  let current: AttemptRun | null = null;
  port.onMessage((message) => {
    switch (message.type) {
      case 'run': {
        if (current) {
          // The supervisor runs one attempt per runner; a second one is a bug there, but it must still end.
          const end: AttemptEnd = { type: 'threw', error: { kind: 'error', message: `runner busy with attempt ${current.spec.key}; attempt ${message.spec.key} was not started (internal error)` } };
          port.post({ type: 'end', key: message.spec.key, end });
          return;
        }
        const run = new AttemptRun(message.spec, port);
        current = run;
        void run.execute().then((end) => {
          current = null;
          hooks.beforeEnd?.(run.spec.key);
          port.post({ type: 'end', key: run.spec.key, end });
          hooks.afterEnd?.(run.spec.key, end);
        });
        return;
      }
      case 'abort':
        if (current?.spec.key === message.key) current.abort(message.reason);
        return;
      case 'reply':
        if (current?.spec.key === message.key) current.reply(message);
        return;
      case 'diagnose':
        void diagnose(message.id).then((reply) => port.post(reply));
        return;
      case 'warm':
        // A load error is not this message's to report: the attempt loads again and fails with the module's own
        // clear error (loadTasks does not cache a failure).
        void loadTasks(message.tasksModule)
          .catch(() => undefined)
          .then(() => hooks.warmed?.());
        return;
    }
  });
}

async function diagnose(id: number): Promise<DiagnoseReply> {
  try {
    // Loaded when first asked: most threads are never diagnosed.
    const mod = await import('../forensics/pending.js');
    return { type: 'diagnosis', id, resources: mod.collectPendingResources() };
  } catch (err) {
    return { type: 'diagnosis', id, resources: [], error: `pending resources unavailable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Heartbeats go out at most this often (more often when the task's heartbeat period asks for it). */
const MAX_HEARTBEAT_INTERVAL_MS = 1_000;
/** Progress goes out at most this often: a watcher sees ~4 updates a second, whatever the task calls. */
const PROGRESS_INTERVAL_MS = 250;

interface Pending {
  resolve(value: unknown): void;
  reject(error: SerializedError): void;
}

class AttemptRun {
  /**
   * Made when the task first reads ctx.signal (or starts a program): many tasks never do, and making one took ~7 % of
   * a task thread's profile samples for no-op attempts (bench/NOTES.md). An abort before then is kept as `abortedBy`.
   */
  private controller: AbortController | null = null;
  private abortedBy: Error | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private spawnCount = 0;
  private spawnQueue: SpawnRequest[] = [];
  private flushScheduled = false;
  /** key → the batch that creates it; the batch resolves with the job ids. */
  private readonly children = new Map<string, Promise<Map<string, string>>>();
  private readonly batches: Array<Promise<Map<string, string>>> = [];
  /** Heartbeats and progress are throttled: a task calling them in a loop must not flood the IPC and the engine. */
  private heartbeats: Throttle<Json | undefined> | null = null;
  private progresses: Throttle<Progress> | null = null;

  constructor(
    readonly spec: AttemptSpec,
    private readonly port: RunnerPort,
  ) {}

  abort(reason: string): void {
    if (this.abortedBy) return;
    const error = new Error(`attempt aborted: ${reason}`);
    error.name = 'AbortError';
    this.abortedBy = error;
    this.controller?.abort(error);
  }

  private get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedBy) this.controller.abort(this.abortedBy);
    }
    return this.controller.signal;
  }

  reply(message: Extract<RunnerInbound, { type: 'reply' }>): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(message.error);
  }

  async execute(): Promise<AttemptEnd> {
    const { spec } = this;
    let value: unknown;
    try {
      if (spec.command) {
        throw new Error(`task "${spec.task}" is a command task: it runs in the command executor, not in a function runner (internal error)`);
      }
      const task = requireTask(await loadTasks(spec.tasksModule), spec.task, spec.tasksModule);
      if (typeof task.run !== 'function') {
        throw new Error(`task "${spec.task}" is a command task: it runs in the command executor, not in a function runner (internal error)`);
      }
      value = await task.run(spec.input, this.context(task.options.heartbeatMs));
      await this.settleSpawns();
    } catch (err) {
      return { type: 'threw', error: serializeError(err) };
    } finally {
      // The latest heartbeat and progress reach the engine before the end does.
      this.heartbeats?.flush();
      this.progresses?.flush();
    }
    return toReturned(spec.task, value);
  }

  private send(message: RunnerOutbound): void {
    this.port.post(message);
  }

  private request<T>(build: (id: number) => RunnerOutbound): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.send(build(id));
    });
  }

  private log(stream: LogStream, text: string, ts = Date.now()): void {
    for (const line of text.split('\n')) {
      this.send({ type: 'log', key: this.spec.key, stream, line: cutLogLine(line), ts });
    }
  }

  private context(heartbeatMs: number | null): TaskContext {
    const { spec } = this;
    const key = spec.key;
    // A quarter of the required period keeps a heartbeating task far from `stalled` even if one message is slow.
    const heartbeatEvery = heartbeatMs === null ? MAX_HEARTBEAT_INTERVAL_MS : Math.min(MAX_HEARTBEAT_INTERVAL_MS, Math.floor(heartbeatMs / 4));
    // The throttles, like the signal, are made on first use: a no-op attempt pays for none of them.
    const heartbeats = (): Throttle<Json | undefined> =>
      (this.heartbeats ??= new Throttle<Json | undefined>(heartbeatEvery, (details) => this.send({ type: 'heartbeat', key, details })));
    const progresses = (): Throttle<Progress> => (this.progresses ??= new Throttle<Progress>(PROGRESS_INTERVAL_MS, (progress) => this.send({ type: 'progress', key, progress })));
    const run = this;
    return {
      jobId: spec.jobId,
      attempt: spec.attempt,
      fence: spec.attempt,
      isCurrent: () => this.request<boolean>((id) => ({ type: 'is-current', key, id })),
      task: spec.task,
      get signal() {
        return run.signal;
      },
      heartbeat: (details?: Json) => heartbeats().push(details === undefined ? undefined : jsonClone(details, 'ctx.heartbeat(details)')),
      progress: (value, message) => progresses().push(toProgress(value, message)),
      log: (...args: unknown[]) => this.log('log', format(...args)),
      spawn: <I, O>(task: string | TaskDefinition<I, O>, input: I, options?: { key?: string }): ChildRef<O> => this.spawn(task, input, options),
      all: <O>(children: ReadonlyArray<ChildRef<O>>, options?: { policy?: ChildPolicy }) => this.all(children, options),
      exec: (argv, options) => this.exec(argv, options),
    };
  }

  private spawn<I, O>(task: string | TaskDefinition<I, O>, input: I, options?: { key?: string }): ChildRef<O> {
    const name = typeof task === 'string' ? task : task?.options?.name;
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError('ctx.spawn(task, input): task must be a task name or a definition returned by defineTask');
    }
    const index = this.spawnCount++;
    const key = options?.key ?? String(index);
    if (typeof key !== 'string' || key.length === 0) throw new TypeError(`ctx.spawn: options.key must be a non-empty string (got ${JSON.stringify(key)})`);
    if (this.children.has(key)) {
      throw new Error(`ctx.spawn: key "${key}" is already used by another child of this attempt; give each child a unique key`);
    }
    const request: SpawnRequest = { task: name, input: jsonClone(input, `ctx.spawn("${name}", input)`), key };
    this.spawnQueue.push(request);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Every spawn of this tick goes out as one batch: 1,000 spawns cost one round trip, not 1,000.
      setImmediate(() => this.flushSpawns());
    }
    this.children.set(key, this.currentBatch!);
    return { key, task: name };
  }

  private batchResolve: ((ids: Map<string, string>) => void) | null = null;
  private batchReject: ((error: unknown) => void) | null = null;
  private get currentBatch(): Promise<Map<string, string>> {
    if (!this.openBatch) {
      this.openBatch = new Promise<Map<string, string>>((resolve, reject) => {
        this.batchResolve = resolve;
        this.batchReject = reject;
      });
      // A failed batch is reported by all() or at the end of the attempt, never as an unhandled rejection.
      this.openBatch.catch(() => undefined);
      this.batches.push(this.openBatch);
    }
    return this.openBatch;
  }
  private openBatch: Promise<Map<string, string>> | null = null;

  private flushSpawns(): void {
    this.flushScheduled = false;
    if (this.spawnQueue.length === 0) return;
    const children = this.spawnQueue;
    const resolve = this.batchResolve!;
    const reject = this.batchReject!;
    this.spawnQueue = [];
    this.openBatch = null;
    this.request<SpawnedChild[]>((id) => ({ type: 'spawn', key: this.spec.key, id, children })).then(
      (spawned) => resolve(new Map(spawned.map((c) => [c.key, c.jobId]))),
      (error: SerializedError) => reject(rebuildError(error)),
    );
  }

  private async all<O>(children: ReadonlyArray<ChildRef<O>>, options?: { policy?: ChildPolicy }): Promise<ChildOutcome<O>[]> {
    if (!Array.isArray(children)) throw new TypeError('ctx.all(children): children must be an array of values returned by ctx.spawn');
    this.flushSpawns();
    const resolved: Array<{ key: string; jobId: string }> = [];
    for (const child of children) {
      const batch = child && this.children.get(child.key);
      if (!batch) throw new Error(`ctx.all: child "${child?.key}" was not spawned by this attempt (pass the values returned by ctx.spawn)`);
      const jobId = (await batch).get(child.key);
      if (!jobId) throw new Error(`ctx.all: the engine did not return a job for child "${child.key}" (internal error)`);
      resolved.push({ key: child.key, jobId });
    }
    const request: AllRequest = { children: resolved, policy: options?.policy ?? 'allSettled' };
    try {
      return await this.request<ChildOutcome<O>[]>((id) => ({ type: 'all', key: this.spec.key, id, request }));
    } catch (error) {
      throw rebuildError(error as SerializedError);
    }
  }

  /** Children spawned and never awaited must still exist before the attempt reports success. */
  private async settleSpawns(): Promise<void> {
    if (this.batches.length === 0) return;
    this.flushSpawns();
    await Promise.all(this.batches);
  }

  private async exec(argv: string[], options?: ExecOptions): Promise<ExecResult> {
    // Loaded on the first ctx.exec: most tasks start no program, and a thread's start should not pay for it.
    const mod = await import('./exec.js');
    const key = this.spec.key;
    return mod.contextExec(argv, options, {
      signal: this.signal,
      endsAt: this.spec.endsAt,
      log: (stream, line, ts) => {
        this.send({ type: 'log', key, stream, line, ts });
        this.send({ type: 'activity', key });
      },
      started: (pid) => this.send({ type: 'exec-started', key, pid }),
      ended: (pid) => this.send({ type: 'exec-ended', key, pid }),
    });
  }
}

function toReturned(task: string, value: unknown): AttemptEnd {
  if (value === undefined) return { type: 'returned', value: null };
  // Checked, not round-tripped: JSON.stringify would store NaN as null and a Map as {} without a word.
  const problem = payloadProblem(value, 'result');
  if (problem) {
    const error = new Error(`task "${task}" returned a value JSON cannot carry: ${problem.message}`, { cause: problem });
    // The same code returns the same value: retrying would only burn attempts.
    return { type: 'threw', error: { ...serializeError(error), retryable: false } };
  }
  return { type: 'returned', value: value as Json };
}

function jsonClone(value: unknown, what: string): Json {
  if (value === undefined) return null;
  const problem = payloadProblem(value, what);
  if (problem) throw new TypeError(problem.message, { cause: problem });
  return value as Json;
}

function toProgress(value: number | { done: number; total: number }, message?: string): Progress {
  let progress: Progress;
  if (typeof value === 'number') {
    progress = { fraction: Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : null };
  } else if (value && typeof value === 'object' && typeof value.done === 'number' && typeof value.total === 'number') {
    const fraction = value.total > 0 && Number.isFinite(value.done / value.total) ? Math.min(1, Math.max(0, value.done / value.total)) : null;
    progress = { fraction, done: value.done, total: value.total };
  } else {
    throw new TypeError(`ctx.progress(value): value must be a fraction 0..1 or { done, total } (got ${JSON.stringify(value)})`);
  }
  if (message !== undefined) progress.message = String(message);
  return progress;
}

/** Turns an engine-side serialized error back into an Error the task can catch; `children` keeps its class. */
function rebuildError(error: SerializedError | unknown): Error {
  if (!error || typeof error !== 'object' || typeof (error as SerializedError).message !== 'string') {
    return new Error(`engine request failed: ${String(error)}`);
  }
  const e = error as SerializedError;
  if (e.kind === 'children') {
    const raw = e.details?.failed;
    const failed = Array.isArray(raw)
      ? raw.filter((f): f is { jobId: string; key: string; kind: string; message: string } => !!f && typeof f === 'object' && !Array.isArray(f))
      : [];
    return new ChildrenFailedError(e.message, failed);
  }
  const out = new Error(e.message) as Error & { code?: string };
  if (e.name) out.name = e.name;
  if (e.code) out.code = e.code;
  return out;
}
