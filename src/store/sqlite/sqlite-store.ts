import type { Transaction } from 'better-sqlite3';
import { Checkpointer } from './checkpointer.js';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { VigilError, errorMessage } from '../../errors.js';
import type { Attempt, AttemptSnapshot, Job, JobState, Json, LogLine } from '../../types.js';
import type {
  ActivityUpdate,
  AttemptFinish,
  ClaimRequest,
  Claimed,
  EnqueueResult,
  Fence,
  SnapshotRequest,
  JobDetail,
  JobEvent,
  JobFilter,
  NewFreeze,
  NewJob,
  OpsSnapshot,
  NewLogLine,
  PruneLogsRequest,
  PruneRequest,
  PruneResult,
  ScheduleFire,
  ScheduleState,
  ScheduleUpsert,
  StatsOptions,
  Store,
  StoreEvent,
  StoreStats,
  TaskRecord,
  WorkerInfo,
  WorkerRecord,
  ProcessRootsRecord,
} from '../contract.js';
import { rowToJob } from '../rows.js';
import { deliver } from '../deliver.js';
import { GroupCommit } from '../group-commit.js';
import * as attempts from './attempts.js';
import * as cancel from './cancel.js';
import { retryWhileBusy } from './busy.js';
import { openSqlite, sqliteTrouble, unavailable, type Db } from './connection.js';
import * as jobs from './jobs.js';
import type { OpResult } from './jobs.js';
import * as logs from './logs.js';
import { HotWriter } from './hot-writer.js';
import type { HotOp } from './hot-ops.js';
import * as prune from './prune.js';
import * as schedules from './schedules.js';
import * as serverReads from './server-reads.js';
import * as ops from './ops.js';
import * as workers from './workers.js';
import * as snapshot from './snapshot.js';

export interface SqliteStoreOptions {
  /** The store's clock, epoch milliseconds. Default Date.now. */
  clock?: () => number;
}

/**
 * The Store contract on one SQLite file (better-sqlite3, WAL). Several processes may share the file: every write
 * is one BEGIN IMMEDIATE transaction, so they serialise on SQLite's write lock and never see a half-done batch.
 * The clock is this process's Date.now() (one machine), or the `clock` given to open() (tests: leases, retry
 * delays and deadlines without sleeping). A worker's hot-path writes run on the store's writer thread once it
 * writes steadily (hot-writer.ts); the rest is synchronous and short, on this connection.
 */
/** How long a finish may wait to share its transaction (see `batch`); bench/NOTES.md has what it bought. */
const FINISH_LINGER_MS = 2;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly crossProcessEvents = false;
  readonly description: string;
  private readonly events = new EventEmitter();
  private closed = false;
  private readonly checkpointer: Checkpointer;
  private readonly hot: HotWriter;
  /**
   * Every write's transaction: one wrapper for the store's life, the write passed as its argument. better-sqlite3
   * builds four functions per `db.transaction()` call, ~4 µs — 4 % of a submit.
   */
  private readonly transaction: Transaction<(op: (now: number) => OpResult<unknown>) => OpResult<unknown>>;

  private constructor(private readonly db: Db, readonly path: string, private readonly clock: () => number) {
    this.description = `sqlite:${path}`;
    this.transaction = db.transaction((op: (now: number) => OpResult<unknown>) => op(this.clock()));
    this.checkpointer = new Checkpointer(db, path);
    this.hot = new HotWriter(db, path, clock, path !== ':memory:' && clock === Date.now);
    // Many waiters (one per awaited job) may subscribe; that is not a leak.
    this.events.setMaxListeners(0);
  }

  /** Opens or creates the file and applies migrations. Throws StoreUnavailableError (nothing created) when it can't. */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const full = path === ':memory:' ? path : resolve(path);
    return new SqliteStore(openSqlite(full), full, options.clock ?? Date.now);
  }

  async now(): Promise<number> {
    return this.clock();
  }

  enqueue(newJobs: NewJob[]): Promise<EnqueueResult[]> {
    // At once, not batched: a submit waits for nothing else, and one by one the batch's turn cost ~20 % of its CPU.
    return this.write((now) => jobs.enqueue(this.db, newJobs, now));
  }

  claim(request: ClaimRequest): Promise<Claimed[]> {
    return this.batched({ op: 'claim', request });
  }

  nextRunAt(tasks: string[]): Promise<number | null> {
    return this.read(() => jobs.nextRunAt(this.db, tasks));
  }

  renewLeases(workerId: string, fences: Fence[], leaseMs: number, held: Fence[] = []): Promise<{ lost: Fence[]; cancelRequested: Fence[]; snapshotRequested: SnapshotRequest[] }> {
    return this.batched({ op: 'renew', workerId, fences, leaseMs, held });
  }

  requestSnapshot(jobId: string): Promise<{ state: JobState; requestedAt: number | null } | null> {
    return this.write((now) => {
      const value = snapshot.requestSnapshot(this.db, jobId, now);
      // Reaches a worker in this process at once; others see the stamp at their next lease renewal.
      const events: StoreEvent[] = value?.requestedAt != null ? [{ type: 'snapshotRequested', jobId, requestedAt: value.requestedAt }] : [];
      return { value, events };
    });
  }

  saveSnapshot(fence: Fence, report: AttemptSnapshot): Promise<boolean> {
    return this.write((now) => ({ value: snapshot.saveSnapshot(this.db, fence, report, now), events: [] }));
  }

  recordActivity(updates: ActivityUpdate[]): Promise<void> {
    if (updates.length === 0) return Promise.resolve();
    return this.batched({ op: 'activity', updates });
  }

  appendLogs(lines: NewLogLine[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return this.batched({ op: 'logs', lines });
  }

  finishAttempt(fence: Fence, finish: AttemptFinish): Promise<Job | null> {
    return this.batched({ op: 'finish', fence, finish }, true);
  }

  /**
   * The worker's hot-path writes (claims, finishes, lease renewals, heartbeats, logs) of one turn share one
   * transaction (group commit, src/store/group-commit.ts), run in the order they were asked; each caller hears back
   * only after it committed. On SQLite a transaction's cost is mostly its COMMIT (the dirty pages copied into the
   * WAL), so a worker's finish and the claim that refills the slot cost one commit, not two (bench/NOTES.md).
   * A finish may wait FINISH_LINGER_MS for others (its slot is already free, the next attempt already started): at
   * concurrency 1 a transaction then carries a few finishes and the refill claim instead of one finish. The batches
   * are written by `hot`: on its thread once the store writes steadily, otherwise on this connection.
   */
  private readonly batch = new GroupCommit<HotOp, unknown>((ops) => this.writeHot(ops), { lingerMs: FINISH_LINGER_MS });

  private batched<T>(op: HotOp, linger = false): Promise<T> {
    // Refused at once, not from inside a batch: a closed store fails its caller only.
    this.checkOpen();
    return this.batch.submit(op, linger) as Promise<T>;
  }

  async recoverExpired(): Promise<Job[]> {
    return (await this.write((now) => attempts.recoverExpired(this.db, now))).map(rowToJob);
  }

  async cancel(jobIds: string[], reason: string): Promise<Job[]> {
    return this.write((now) => cancel.cancel(this.db, jobIds, reason, now));
  }

  async retry(jobId: string): Promise<Job> {
    return rowToJob(await this.write((now) => cancel.retry(this.db, jobId, now)));
  }

  get(jobId: string): Promise<Job | null> {
    return this.read(() => {
      const row = jobs.get(this.db, jobId);
      return row ? rowToJob(row) : null;
    });
  }

  getMany(jobIds: string[]): Promise<Job[]> {
    return this.read(() => jobs.getMany(this.db, jobIds));
  }

  list(filter: JobFilter): Promise<Job[]> {
    return this.read(() => jobs.list(this.db, filter).map(rowToJob));
  }

  children(parentId: string): Promise<Job[]> {
    return this.read(() => jobs.children(this.db, parentId).map(rowToJob));
  }

  attempts(jobId: string): Promise<Attempt[]> {
    return this.read(() => attempts.attempts(this.db, jobId));
  }

  logs(jobId: string, options?: { afterSeq?: number; limit?: number; attempt?: number; tail?: boolean }): Promise<LogLine[]> {
    return this.read(() => logs.logs(this.db, jobId, options));
  }

  counts(): Promise<Record<JobState, number>> {
    return this.read(() => jobs.counts(this.db));
  }

  jobDetail(jobId: string): Promise<JobDetail | null> {
    return this.read(() => serverReads.jobDetail(this.db, jobId));
  }

  stats(options: StatsOptions): Promise<StoreStats> {
    return this.read(() => serverReads.stats(this.db, options, Date.now()));
  }

  queueDepth(task: string): Promise<{ total: number; task: number }> {
    return this.read(() => serverReads.queueDepth(this.db, task));
  }

  eventsAfter(afterSeq: number, limit: number): Promise<JobEvent[]> {
    return this.read(() => serverReads.eventsAfter(this.db, afterSeq, limit));
  }

  lastEventSeq(): Promise<number> {
    return this.read(() => serverReads.lastEventSeq(this.db));
  }

  registerWorker(info: WorkerInfo): Promise<void> {
    return this.write((now) => ({ value: workers.registerWorker(this.db, info, now), events: [] }));
  }

  workerHeartbeat(workerId: string, stats: Json): Promise<void> {
    return this.write((now) => ({ value: workers.workerHeartbeat(this.db, workerId, stats, now), events: [] }));
  }

  unregisterWorker(workerId: string): Promise<void> {
    return this.write(() => ({ value: workers.unregisterWorker(this.db, workerId), events: [] }));
  }

  saveProcessRoots(record: ProcessRootsRecord): Promise<void> {
    return this.write((now) => ({ value: workers.saveProcessRoots(this.db, record, now), events: [] }));
  }

  listProcessRoots(host: string): Promise<ProcessRootsRecord[]> {
    return this.read(() => workers.listProcessRoots(this.db, host));
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.read(() => workers.listWorkers(this.db));
  }

  knownTasks(): Promise<TaskRecord[]> {
    return this.read(() => workers.knownTasks(this.db));
  }

  syncSchedules(list: ScheduleUpsert[]): Promise<ScheduleState[]> {
    return this.write((now) => ({ value: schedules.syncSchedules(this.db, list, now), events: [] }));
  }

  fireSchedule(fire: ScheduleFire): Promise<{ fired: boolean; jobs: Job[] }> {
    return this.write((now) => schedules.fireSchedule(this.db, fire, now));
  }

  listSchedules(): Promise<ScheduleState[]> {
    return this.read(() => schedules.listSchedules(this.db));
  }

  pauseTask(task: string, forMs: number, reason: string): Promise<void> {
    return this.write((now) => ({ value: schedules.pauseTask(this.db, task, forMs, reason, now), events: [] }));
  }

  flowState(): Promise<{ pauses: Array<{ task: string; until: number; reason: string }> }> {
    return this.read(() => schedules.flowState(this.db, Date.now()));
  }

  prune(request: PruneRequest): Promise<PruneResult> {
    // A dry run only reads, but inside one transaction its count and `more` agree.
    return this.write(() => ({ value: prune.prune(this.db, request), events: [] }));
  }

  pruneLogs(request: PruneLogsRequest): Promise<PruneResult> {
    return this.write(() => ({ value: prune.pruneLogs(this.db, request), events: [] }));
  }

  async compact(options: { full?: boolean } = {}): Promise<void> {
    this.checkOpen();
    try {
      prune.compact(this.db, options.full === true);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  opsSnapshot(options: { sinceMs: number; limit: number }): Promise<OpsSnapshot> {
    return this.read(() => ops.opsSnapshot(this.db, this.clock(), options.sinceMs, options.limit));
  }

  recordFreeze(freeze: NewFreeze): Promise<void> {
    return this.write(() => ({ value: ops.recordFreeze(this.db, freeze), events: [] }));
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    const isolated = (e: StoreEvent): void => deliver(listener, e);
    this.events.on('event', isolated);
    return () => this.events.off('event', isolated);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Writes already asked for are written first (they were accepted before the close).
    await this.batch.flush();
    if (this.closed) return;
    this.closed = true;
    this.events.removeAllListeners();
    await this.hot.close();
    await this.checkpointer.close();
    this.db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async writeHot(ops: HotOp[]): Promise<unknown[]> {
    this.checkOpen();
    return this.committed(this.hot.write(ops));
  }

  /**
   * One BEGIN IMMEDIATE transaction; events are emitted only after it committed. Another process's lock is waited
   * for between tries, asynchronously (busy.ts): the event loop is never blocked by it for more than a slice.
   */
  private async write<T>(op: (now: number) => OpResult<T>): Promise<T> {
    this.checkOpen();
    return this.committed(
      retryWhileBusy(() => {
        this.checkOpen();
        return this.transaction.immediate(op) as OpResult<T>;
      }),
    );
  }

  /** A transaction's outcome, wherever it ran: its error as the store's, or its events emitted and its value. */
  private async committed<T>(transaction: Promise<OpResult<T>>): Promise<T> {
    let result: OpResult<T>;
    try {
      result = await transaction;
    } catch (err) {
      throw this.wrap(err);
    }
    for (const e of result.events) this.events.emit('event', e);
    return result.value;
  }

  private async read<T>(op: () => T): Promise<T> {
    this.checkOpen();
    const sent = this.hot.sent();
    if (sent) await sent;
    this.checkOpen();
    try {
      return await retryWhileBusy(() => {
        this.checkOpen();
        return op();
      });
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', `the store ${this.description} is closed: open it again to use it`);
  }

  /** Our own errors pass through; driver errors say which file and what to do. */
  private wrap(err: unknown): Error {
    if (err instanceof VigilError) return err;
    // Conditions of the file or its lock, not bugs: the caller may retry later or fix the location.
    if (sqliteTrouble(err) !== 'other') return unavailable(this.path, err);
    return new VigilError('VIGIL_INTERNAL', `SQLite store ${this.path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Same as SqliteStore.open. */
export function openSqliteStore(path: string): Promise<SqliteStore> {
  return SqliteStore.open(path);
}
