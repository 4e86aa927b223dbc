import type { Claimed, AttemptFinish, Fence, Store } from '../store/contract.js';
import type { TaskDefinition } from '../task/define.js';
import { formatDuration } from '../task/duration.js';
import { retryDelayMs } from '../task/retry.js';
import type { TaskMap } from '../task/registry.js';
import { serializeError } from '../task/serialize.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, Executor, RunningAttempt } from '../executors/types.js';
import { RETRYABLE_KINDS, type ErrorKind, type HangReport, type Json, type Progress, type SerializedError } from '../types.js';
import { awaitChildren, ChildPolicyFailure, spawnChildren } from './fanout.js';
import type { ActivityBatcher } from './log-batcher.js';
import type { Slots } from './slots.js';

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
  onEvent?(event: SupervisorEvent): void;
  /** The tasks module failed to load in the executor: no attempt of `task` can run in this worker. */
  onTaskUnusable?(task: string, message: string): void;
}

export type SupervisorEvent =
  | { type: 'started'; jobId: string; attempt: number; task: string }
  | { type: 'progress'; jobId: string; progress: Progress }
  | { type: 'enforcing'; jobId: string; attempt: number; kind: ErrorKind; message: string }
  | { type: 'finished'; jobId: string; attempt: number; outcome: 'succeeded' | ErrorKind; recorded: boolean; retrying: boolean };

/** Why the engine ends an attempt from outside. `shutdown` and `leaseLost` are not outcomes a task caused. */
type Ending = { kind: 'timeout' | 'stalled' | 'cancelled' | 'deadline'; message: string } | { kind: 'shutdown' | 'leaseLost'; message: string };

const LOG_TAIL = 50;

/**
 * Supervises one attempt from claim to its recorded outcome. All enforcement happens here, outside the task:
 * timers for timeout/deadline/heartbeat/silence → hang capture (bounded) and abort → grace → kill. The attempt's
 * code runs in an executor; this runs on the worker's event loop and only waits on timers, messages and the store.
 */
export class AttemptSupervisor {
  readonly fence: Fence;
  private running: RunningAttempt | null = null;
  private ending: Ending | null = null;
  private hangReport: HangReport | null = null;
  /** How the stop went: did the code end within the grace after the abort, and how fast (for the message). */
  private stopped: { exited: boolean; afterMs: number } | null = null;
  private readonly startedAt = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private lastHeartbeatAt: number | null = null;
  private progress: Progress | null = null;
  private readonly logTail: string[] = [];
  private holdsSlot = true;
  private waitingChildren = 0;
  private readonly lifetime = new AbortController();
  private readonly def: TaskDefinition;
  private enforcing: Promise<void> | null = null;
  private codeEnded = false;

  constructor(private readonly claimed: Claimed, private readonly deps: SupervisorDeps) {
    this.fence = claimed.fence;
    this.def = deps.tasks.get(claimed.job.task)!;
  }

  get jobId(): string {
    return this.fence.jobId;
  }
  get task(): string {
    return this.claimed.job.task;
  }
  /** True while it counts against the worker's slots (false while a parent waits for children). */
  get active(): boolean {
    return this.holdsSlot;
  }

  /** Runs the attempt to the end and records it. Never throws. */
  async run(): Promise<void> {
    const job = this.claimed.job;
    const opts = this.def.options;
    const now = Date.now();
    const deadlineLocal = job.deadlineAt === null ? Infinity : job.deadlineAt - this.deps.clockOffsetMs();
    const timeoutAt = now + opts.timeoutMs;
    const endsAt = Math.min(timeoutAt, deadlineLocal);
    this.deps.onEvent?.({ type: 'started', jobId: job.id, attempt: this.fence.attempt, task: job.task });

    let end: AttemptEnd;
    try {
      const spec = this.buildSpec(endsAt);
      const executor = this.deps.executorFor(this.def);
      this.running = executor.start(spec, this.channel());
      this.at(endsAt, () =>
        endsAt === timeoutAt
          ? this.enforce({ kind: 'timeout', message: `attempt ${this.fence.attempt} exceeded its timeout of ${formatDuration(opts.timeoutMs)}` })
          : this.enforce({ kind: 'deadline', message: `the job's deadline passed during attempt ${this.fence.attempt}` }),
      );
      this.armHeartbeat();
      this.armSilence();
      end = await this.running.done;
    } catch (err) {
      // Building the spec (the command's argv function) or starting the executor failed: a task error.
      end = { type: 'threw', error: serializeError(err) };
    }
    this.clearTimers();
    this.lifetime.abort();
    this.codeEnded = true;
    if (this.enforcing) await this.enforcing;
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

  /** The lease is gone: another worker may already run this job. Kill and record nothing (G5). */
  leaseLost(): void {
    void this.enforce({ kind: 'leaseLost', message: 'the lease was lost (the store was unreachable or this worker froze); the attempt was killed and its result discarded' });
  }

  /** Worker shutdown after the drain period: stop the attempt and return the job to the queue uncharged. */
  shutdown(): void {
    void this.enforce({ kind: 'shutdown', message: 'the worker shut down before the attempt finished; the job was returned to the queue (not charged)' });
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
      spec.command = { argv, cwd: this.def.cwd, env: this.def.env, stdin, result: this.def.result };
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
        this.lastHeartbeatAt = Date.now();
        batcher.heartbeat(fence, this.lastHeartbeatAt);
        this.armHeartbeat();
      },
      progress: (p) => {
        this.progress = p;
        batcher.progress(fence, p);
        this.deps.onEvent?.({ type: 'progress', jobId: fence.jobId, progress: p });
      },
      activity: () => this.armSilence(),
      processStarted: () => undefined,
      processEnded: () => undefined,
      spawn: (children) => spawnChildren(this.deps.store, this.deps.tasks, fence, children),
      all: (request) => this.waitChildren(request),
    };
  }

  /**
   * Waiting counts towards the attempt's timeout and deadline (they keep running); the heartbeat requirement is
   * suspended while waiting, because the engine itself is doing the waiting. The slot is given back meanwhile.
   */
  private async waitChildren(request: Parameters<AttemptChannel['all']>[0]): Promise<Awaited<ReturnType<AttemptChannel['all']>>> {
    this.waitingChildren++;
    this.setHoldsSlot(false);
    this.disarm('heartbeat');
    try {
      return await awaitChildren(this.deps.store, request, { signal: this.lifetime.signal, pollMs: this.deps.pollMs });
    } catch (err) {
      if (err instanceof ChildPolicyFailure) throw err.serialized;
      throw serializeError(err);
    } finally {
      this.waitingChildren--;
      if (this.waitingChildren === 0 && !this.lifetime.signal.aborted) {
        await this.deps.slots.resume();
        this.holdsSlot = true;
        if (this.lifetime.signal.aborted) this.setHoldsSlot(false);
        this.armHeartbeat();
      }
    }
  }

  private setHoldsSlot(hold: boolean): void {
    if (this.holdsSlot === hold) return;
    this.holdsSlot = hold;
    if (!hold) this.deps.slots.release();
  }

  /** Ends the attempt from outside: capture where it is stuck (bounded), abort, grace, kill. */
  private enforce(ending: Ending): Promise<void> {
    if (this.ending || !this.running || this.codeEnded) return Promise.resolve();
    this.ending = ending;
    this.enforcing = this.stop(this.running, ending);
    return this.enforcing;
  }

  private async stop(running: RunningAttempt, ending: Ending): Promise<void> {
    this.clearTimers();
    if (ending.kind !== 'shutdown' && ending.kind !== 'leaseLost') {
      this.deps.onEvent?.({ type: 'enforcing', jobId: this.jobId, attempt: this.fence.attempt, kind: ending.kind, message: ending.message });
    }
    // A manual cancel is when a user most wants to know where it was stuck: capture then too.
    const captures = ending.kind === 'timeout' || ending.kind === 'stalled' || ending.kind === 'deadline' || ending.kind === 'cancelled';
    const capture = captures ? this.capture(running, ending.kind as ErrorKind) : Promise.resolve();
    const abortedAt = Date.now();
    running.abort(ending.message);
    const grace = ending.kind === 'leaseLost' ? 0 : this.def.options.graceMs;
    const exited = await settlesWithin(running.done, grace);
    this.stopped = { exited, afterMs: Date.now() - abortedAt };
    // Capture never delays the kill past its own bound.
    await settlesWithin(capture, this.deps.captureBudgetMs);
    if (!exited) await running.kill();
  }

  private async capture(running: RunningAttempt, kind: ErrorKind): Promise<void> {
    const started = Date.now();
    let where: HangReport['where'];
    try {
      const late: HangReport['where'] = { notes: [`capture did not finish within ${this.deps.captureBudgetMs} ms; the kill went ahead`] };
      const capturing = running.captureHang(this.deps.captureBudgetMs);
      where = (await settlesWithin(capturing, this.deps.captureBudgetMs + 100)) ? await capturing : late;
    } catch (err) {
      where = { notes: [`capture failed: ${err instanceof Error ? err.message : String(err)}`] };
    }
    this.hangReport = {
      kind,
      capturedAt: started,
      elapsedMs: started - this.startedAt,
      captureMs: Date.now() - started,
      lastHeartbeatAt: this.lastHeartbeatAt,
      progress: this.progress,
      logTail: [...this.logTail],
      where: { ...where, notes: where.notes ?? [] },
    };
  }

  private async record(end: AttemptEnd): Promise<void> {
    // Before the slot is free: the worker must stop claiming this task before it could claim the next such job.
    if (end.type === 'threw' && end.error.code === 'VIGIL_TASKS_MODULE_LOAD' && !this.ending) this.deps.onTaskUnusable?.(this.claimed.job.task, end.error.message);
    this.setHoldsSlot(false);
    await this.deps.batcher.flush();
    const ending = this.ending;
    if (ending?.kind === 'leaseLost') {
      this.deps.onEvent?.({ type: 'finished', jobId: this.jobId, attempt: this.fence.attempt, outcome: 'crashed', recorded: false, retrying: false });
      return;
    }
    const finish = this.decide(end, ending);
    let recorded = false;
    for (let i = 0; i < 8; i++) {
      try {
        recorded = await this.deps.store.finishAttempt(this.fence, finish);
        break;
      } catch {
        // The store is unreachable: keep trying while the lease may still be valid; fencing decides after.
        await sleep(Math.min(5_000, 100 * 2 ** i));
      }
    }
    this.deps.onEvent?.({
      type: 'finished',
      jobId: this.jobId,
      attempt: this.fence.attempt,
      outcome: finish.outcome,
      recorded,
      retrying: finish.outcome !== 'succeeded' && finish.retryInMs !== null,
    });
  }

  private decide(end: AttemptEnd, ending: Ending | null): AttemptFinish {
    const job = this.claimed.job;
    if (ending?.kind === 'shutdown') {
      return { outcome: 'crashed', error: { kind: 'crashed', message: ending.message }, charged: false, retryInMs: 0 };
    }
    let error: SerializedError;
    let charged = true;
    if (ending) {
      error = { kind: ending.kind as ErrorKind, message: this.describeEnding(ending) };
      // Cancelling is the user's decision, not a failure of the attempt: it does not use up the retry budget.
      if (ending.kind === 'cancelled') charged = false;
    } else {
      switch (end.type) {
        case 'returned':
          return { outcome: 'succeeded', result: end.value as Json };
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
    const chargedSoFar = job.chargedAttempts + (charged ? 1 : 0);
    const retryable = RETRYABLE_KINDS.includes(error.kind) && error.retryable !== false;
    let retryInMs: number | null = null;
    if (error.kind === 'cancelled') retryInMs = null;
    else if (!charged) retryInMs = 0;
    else if (retryable && chargedSoFar < job.maxAttempts) retryInMs = retryDelayMs(this.def.options.retry, chargedSoFar);
    return { outcome: error.kind, error, hangReport: this.hangReport, charged, retryInMs };
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

  private at(when: number, fn: () => void): void {
    const t = setTimeout(fn, Math.max(0, when - Date.now()));
    this.timers.add(t);
  }

  private armHeartbeat(): void {
    const ms = this.def.options.heartbeatMs;
    if (ms === null || this.ending || this.waitingChildren > 0) return;
    this.disarm('heartbeat');
    this.heartbeatTimer = setTimeout(
      () => void this.enforce({ kind: 'stalled', message: `no heartbeat for ${formatDuration(ms)} (task declares heartbeat: ${formatDuration(ms)})` }),
      ms,
    );
  }

  private armSilence(): void {
    const ms = this.def.options.silenceMs;
    if (ms === null || this.ending) return;
    this.disarm('silence');
    this.silenceTimer = setTimeout(
      () => void this.enforce({ kind: 'stalled', message: `no output for ${formatDuration(ms)} (task declares silence: ${formatDuration(ms)})` }),
      ms,
    );
  }

  private disarm(which: 'heartbeat' | 'silence'): void {
    const t = which === 'heartbeat' ? this.heartbeatTimer : this.silenceTimer;
    if (t) clearTimeout(t);
    if (which === 'heartbeat') this.heartbeatTimer = null;
    else this.silenceTimer = null;
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.disarm('heartbeat');
    this.disarm('silence');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether `work` settles within ms; the timer is cleared either way, so a 5 s grace never outlives its attempt. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
