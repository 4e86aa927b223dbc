import pg from 'pg';
import { StoreUnavailableError, VigilError, errorMessage } from '../../errors.js';
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
  NewLogLine,
  PruneLogsRequest,
  PruneRequest,
  PruneResult,
  ScheduleFire,
  ScheduleState,
  ScheduleUpsert,
  StatsOptions,
  OpsSnapshot,
  Store,
  StoreEvent,
  StoreStats,
  TaskRecord,
  WorkerInfo,
  WorkerRecord,
  ProcessRootsRecord,
} from '../contract.js';
import * as att from './attempts.js';
import { CLAIM_JOBS, claim, claimedFrom, fastClaim, fastParams, nextRunAt, type FastClaim } from './claim.js';
import { cancel, retry } from './control.js';
import { createDb, isUnavailable, type Db } from './db.js';
import { enqueue } from './enqueue.js';
import { deliver } from '../deliver.js';
import { isJobId } from '../rows.js';
import { GroupCommit } from '../group-commit.js';
import { Listener, type ListenStatus } from './listener.js';
import { migrate } from './migrate.js';
import * as ops from './ops.js';
import * as reads from './reads.js';
import * as serverReads from './server-reads.js';
import { recoverExpired } from './recover.js';
import { parsePostgresUrl, quoteIdent } from './url.js';
import * as workers from './workers.js';
import * as prune from './prune.js';
import * as schedules from './schedules.js';

export interface PostgresStoreOptions {
  /** Pooled connections for queries (the LISTEN connection is extra). Default 4. */
  poolSize?: number;
  /** Slow poll behind LISTEN/NOTIFY, for notifications lost anyway. Default 10 s. */
  pollMs?: number;
}

let instances = 0;

type HotFinish = { kind: 'finish'; fence: Fence; finish: AttemptFinish };
type HotClaim = { kind: 'claim'; request: ClaimRequest; fast: FastClaim };
type HotOp = HotFinish | HotClaim;
type HotOut = { value: Job | null | Claimed[] } | { error: unknown };

/**
 * Opens (and migrates) the store at `postgres://…[?schema=NAME]`. Fails with StoreUnavailableError when the
 * database can not be reached, and with UsageError for a malformed URL.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const loc = parsePostgresUrl(url);
  const applicationName = `vigil:${loc.schema}:${process.pid}.${++instances}`;
  const base: pg.ClientConfig = {
    connectionString: loc.connectionString,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    // A peer that vanished without a reset (cable, VM pause) is noticed in seconds, not after the 2 h OS default.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const migrator = new pg.Client(base);
  migrator.on('error', () => undefined);
  try {
    await migrator.connect();
    await migrate(migrator, loc.schema);
  } catch (err) {
    if (isUnavailable(err)) {
      throw new StoreUnavailableError(`can not open PostgreSQL store ${loc.description}: ${errorMessage(err)} — is the database running and reachable?`, err);
    }
    throw new VigilError('VIGIL_INTERNAL', `migrating PostgreSQL store ${loc.description} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    await migrator.end().catch(() => undefined);
  }
  return new PostgresStore(loc.schema, loc.description, base, applicationName, options);
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly crossProcessEvents = true;
  private readonly pool: pg.Pool;
  private readonly db: Db;
  private readonly listener: Listener;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private closed = false;

  constructor(
    /** Unquoted schema name. */
    readonly schema: string,
    readonly description: string,
    clientConfig: pg.ClientConfig,
    /** `application_name` of every connection of this store (to find them in pg_stat_activity). */
    readonly applicationName: string,
    options: PostgresStoreOptions = {},
  ) {
    this.pool = new pg.Pool({
      ...clientConfig,
      max: options.poolSize ?? 4,
      idleTimeoutMillis: 30_000,
      // The last resort against a query that never returns: the engine gets an error it can retry instead of a hang.
      query_timeout: 60_000,
    });
    // An idle pooled connection killed by a restart emits 'error'; unhandled, it would crash the worker.
    this.pool.on('error', () => undefined);
    // And every pooled connection keeps a listener of its own for its whole life: pg-pool listens only while a
    // connection is idle, a transaction of ours while it holds one (db.ts); a server shutdown ("terminating connection
    // due to administrator command") that reached a connection outside both was emitted with nobody listening and
    // crashed a worker (postgres-scale's database restart, once in CI). The error still reaches whoever uses the
    // connection (its query fails), and pg-pool drops a connection that is no longer queryable when it comes back.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.db = createDb(this.pool, quoteIdent(schema), description);
    this.listener = new Listener({
      clientConfig,
      channel: `vigil_${schema}`,
      pollMs: options.pollMs ?? 10_000,
      onEvent: (e) => this.emit(e),
      runnableTasks: () => this.runnableTasks(),
    });
  }

  /** Connections made by the LISTEN side so far (1 + reconnections). */
  get listenConnections(): number {
    return this.listener.connections;
  }

  get listening(): boolean {
    return this.listener.connected;
  }

  /** The LISTEN connection's health: failures in a row, since when, the last error (for `doctor` and metrics). */
  get listenStatus(): ListenStatus {
    return this.listener.status;
  }

  private get q(): Db {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', `store ${this.description} is closed`);
    return this.db;
  }

  async now(): Promise<number> {
    return reads.now(this.q);
  }
  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    return enqueue(this.q, jobs);
  }
  async claim(request: ClaimRequest): Promise<Claimed[]> {
    const fast = fastClaim(request);
    if (fast === 'nothing') return [];
    if (fast === null) return claim(this.q, request);
    void this.q; // a closed store fails here, not in a batch
    return (await this.hotOp({ kind: 'claim', request, fast })) as Claimed[];
  }
  async nextRunAt(tasks: string[]): Promise<number | null> {
    return nextRunAt(this.q, tasks);
  }
  async renewLeases(workerId: string, fences: Fence[], leaseMs: number, held: Fence[] = []): Promise<{ lost: Fence[]; cancelRequested: Fence[]; snapshotRequested: SnapshotRequest[] }> {
    return att.renewLeases(this.q, workerId, fences, leaseMs, held);
  }
  async requestSnapshot(jobId: string): Promise<{ state: JobState; requestedAt: number | null } | null> {
    return att.requestSnapshot(this.q, jobId, `vigil_${this.schema}`);
  }
  async saveSnapshot(fence: Fence, snapshot: AttemptSnapshot): Promise<boolean> {
    return att.saveSnapshot(this.q, fence, snapshot);
  }
  async recordActivity(updates: ActivityUpdate[]): Promise<void> {
    return att.recordActivity(this.q, updates);
  }
  async appendLogs(lines: NewLogLine[]): Promise<void> {
    return att.appendLogs(this.q, lines);
  }
  finishAttempt(fence: Fence, finish: AttemptFinish): Promise<Job | null> {
    return this.hotOp({ kind: 'finish', fence, finish }) as Promise<Job | null>;
  }

  /**
   * Finishes that arrive while one batch commits, or in the same turn, share the next transaction (group commit):
   * one WAL flush and one NOTIFY for many jobs. Each caller hears back only after its batch committed. A claim
   * (its common form) asked in the same turn as successes rides in the same statement (see writeHot).
   */
  private readonly hot = new GroupCommit<HotOp, HotOut>((items) => this.writeHot(items));

  private async hotOp(op: HotOp): Promise<Job | null | Claimed[]> {
    const r = await this.hot.submit(op);
    if ('error' in r) throw r.error;
    return r.value;
  }

  /**
   * One batch: the successes and the first claim in one statement when both are there, else the finishes in one
   * transaction and each claim in its own statement, all at once on the pool. Each part fails alone: a part that
   * failed (nothing of it committed: one statement, or one transaction) is written again item by item, so one item
   * the database rejects fails only its caller, and a claim never fails because a finish did (or the reverse).
   */
  private async writeHot(items: HotOp[]): Promise<HotOut[]> {
    const db = this.q;
    const out = new Array<HotOut>(items.length);
    const alone = async (i: number): Promise<void> => {
      const op = items[i]!;
      try {
        out[i] = { value: op.kind === 'finish' ? (await att.finishAttempts(db, [op]))[0]! : await this.claimNow(op) };
      } catch (error) {
        out[i] = { error };
      }
    };
    const part = async (idx: number[], run: () => Promise<Array<Job | null | Claimed[]>>): Promise<void> => {
      try {
        const values = await run();
        idx.forEach((i, k) => (out[i] = { value: values[k]! }));
      } catch (error) {
        if (idx.length === 1) out[idx[0]!] = { error };
        else for (const i of idx) await alone(i);
      }
    };
    const finishes: number[] = [];
    const claims: number[] = [];
    items.forEach((op, i) => (op.kind === 'finish' ? finishes : claims).push(i));
    const fin = finishes.map((i) => items[i] as HotFinish);
    const work: Array<Promise<void>> = [];
    let rest = claims;
    // A C=1 worker's finish and the refill claim it sends with it: one statement, one commit. Successes only: any
    // other outcome needs its locked read and nextState() first.
    if (claims.length > 0 && fin.length > 0 && fin.every((f) => f.finish.outcome === 'succeeded' && isJobId(f.fence.jobId))) {
      const c = items[claims[0]!] as HotClaim;
      rest = claims.slice(1);
      work.push(
        part([...finishes, claims[0]!], async () => {
          const r = await att.finishSucceededAndClaim(db, fin, c.fast);
          return [...r.finished, await claimedFrom(db, c.request, r.claimRows)];
        }),
      );
    } else if (fin.length > 0) {
      work.push(part(finishes, () => att.finishAttempts(db, fin)));
    }
    for (const i of rest) work.push(alone(i));
    await Promise.all(work);
    return out;
  }

  private async claimNow(op: HotClaim): Promise<Claimed[]> {
    return claimedFrom(this.q, op.request, await this.q.query(CLAIM_JOBS(this.q.s), fastParams(op.fast), true));
  }
  async recoverExpired(): Promise<Job[]> {
    return recoverExpired(this.q);
  }
  async cancel(jobIds: string[], reason: string): Promise<Job[]> {
    return cancel(this.q, jobIds, reason);
  }
  async retry(jobId: string): Promise<Job> {
    return retry(this.q, jobId);
  }
  async get(jobId: string): Promise<Job | null> {
    return reads.get(this.q, jobId);
  }
  async getMany(jobIds: string[]): Promise<Job[]> {
    return reads.getMany(this.q, jobIds);
  }
  async list(filter: JobFilter): Promise<Job[]> {
    return reads.list(this.q, filter);
  }
  async children(parentId: string): Promise<Job[]> {
    return reads.children(this.q, parentId);
  }
  async attempts(jobId: string): Promise<Attempt[]> {
    return reads.attempts(this.q, jobId);
  }
  async logs(jobId: string, options?: { afterSeq?: number; limit?: number; attempt?: number; tail?: boolean }): Promise<LogLine[]> {
    return reads.logs(this.q, jobId, options);
  }
  async counts(): Promise<Record<JobState, number>> {
    return reads.counts(this.q);
  }
  async jobDetail(jobId: string): Promise<JobDetail | null> {
    return serverReads.jobDetail(this.q, jobId);
  }
  async stats(options: StatsOptions): Promise<StoreStats> {
    return serverReads.stats(this.q, options);
  }
  async queueDepth(task: string): Promise<{ total: number; task: number }> {
    return serverReads.queueDepth(this.q, task);
  }
  async eventsAfter(afterSeq: number, limit: number): Promise<JobEvent[]> {
    return serverReads.eventsAfter(this.q, afterSeq, limit);
  }
  async lastEventSeq(): Promise<number> {
    return serverReads.lastEventSeq(this.q);
  }
  async registerWorker(info: WorkerInfo): Promise<void> {
    return workers.registerWorker(this.q, info);
  }
  async workerHeartbeat(workerId: string, stats: Json): Promise<void> {
    return workers.workerHeartbeat(this.q, workerId, stats);
  }
  async unregisterWorker(workerId: string): Promise<void> {
    return workers.unregisterWorker(this.q, workerId);
  }
  async saveProcessRoots(record: ProcessRootsRecord): Promise<void> {
    return workers.saveProcessRoots(this.q, record);
  }
  async listProcessRoots(host: string): Promise<ProcessRootsRecord[]> {
    return workers.listProcessRoots(this.q, host);
  }
  async listWorkers(): Promise<WorkerRecord[]> {
    return workers.listWorkers(this.q);
  }
  async knownTasks(): Promise<TaskRecord[]> {
    return workers.knownTasks(this.q);
  }
  async opsSnapshot(options: { sinceMs: number; limit: number }): Promise<OpsSnapshot> {
    return ops.opsSnapshot(this.q, options.sinceMs, options.limit);
  }
  async recordFreeze(freeze: NewFreeze): Promise<void> {
    return ops.recordFreeze(this.q, freeze);
  }

  async syncSchedules(list: ScheduleUpsert[]): Promise<ScheduleState[]> {
    return schedules.syncSchedules(this.q, list);
  }
  async fireSchedule(fire: ScheduleFire): Promise<{ fired: boolean; jobs: Job[] }> {
    return schedules.fireSchedule(this.q, fire);
  }
  async listSchedules(): Promise<ScheduleState[]> {
    return schedules.listSchedules(this.q);
  }
  async pauseTask(task: string, forMs: number, reason: string): Promise<void> {
    return schedules.pauseTask(this.q, task, forMs, reason);
  }
  async flowState(): Promise<{ pauses: Array<{ task: string; until: number; reason: string }> }> {
    return schedules.flowState(this.q);
  }
  async prune(request: PruneRequest): Promise<PruneResult> {
    return prune.prune(this.q, request);
  }
  async pruneLogs(request: PruneLogsRequest): Promise<PruneResult> {
    return prune.pruneLogs(this.q, request);
  }
  async compact(options: { full?: boolean } = {}): Promise<void> {
    return prune.compact(this.q, options.full === true);
  }

  /** The LISTEN connection is opened on the first subscription: one-shot CLI commands never hold one. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    if (!this.closed) void this.listener.start();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves when the LISTEN connection is up (tests; a worker does not need to wait for it). */
  async whenListening(): Promise<void> {
    await this.listener.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listener.close();
    await this.pool.end().catch(() => undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private emit(event: StoreEvent): void {
    for (const l of [...this.listeners]) deliver(l, event);
  }

  private async runnableTasks(): Promise<string[]> {
    if (this.closed) return [];
    const rows = await this.db.read<{ task: string }>(
      `SELECT DISTINCT task FROM (
         SELECT task FROM ${this.db.s}.jobs WHERE state = 'queued' AND run_at <= ${this.db.s}.now_ms() LIMIT 10000) s`,
    );
    return rows.map((r) => r.task);
  }
}
