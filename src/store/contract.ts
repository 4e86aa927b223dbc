import type {
  Attempt,
  AttemptSnapshot,
  ErrorKind,
  HangReport,
  Job,
  JobState,
  Json,
  LogLine,
  LogStream,
  Progress,
  RetryPolicy,
  SerializedError,
  StackFrame,
} from '../types.js';

/**
 * The store contract. Every durable fact lives behind it; SQLite and PostgreSQL implement it identically and one
 * parameterized test suite (test/store-contract.test.ts) checks both.
 *
 * Rules every implementation keeps:
 * - Every method is one transaction (or one statement); batch methods are one round trip per batch, never one per
 *   row.
 * - Times are milliseconds since the epoch on the STORE's clock (`now()`): lease expiry, runAt, deadlines and
 *   retry delays are computed inside the store so several machines with skewed clocks agree.
 * - Every write on behalf of an attempt is fenced (DESIGN G5): it applies only if the job is `running`, its current
 *   attempt number and lease owner equal the fence's, and its lease has not expired. Otherwise it changes nothing.
 * - Ids are decimal strings of an integer sequence.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Human-readable location without secrets, for messages. */
  readonly description: string;

  now(): Promise<number>;

  /**
   * Inserts jobs in one transaction, in order. A job whose (parentId, childKey) or idempotencyKey already exists is
   * not inserted again: the existing job is returned with `created: false`.
   */
  enqueue(jobs: NewJob[]): Promise<EnqueueResult[]>;

  /**
   * Claims up to `limit` runnable jobs (state `queued`, runAt ≤ now, task in `tasks`, at most tasks[name] of each
   * task) in one transaction, highest priority then oldest runAt then lowest id first. Each claimed job becomes
   * `running` with attempts + 1, a lease owned by workerId until now + leaseMs, and an attempt row. Jobs found
   * whose deadline has passed are failed with kind `deadline` instead of being claimed (at most 500 per claim; the
   * others are skipped, never run, and failed by later claims).
   */
  claim(request: ClaimRequest): Promise<Claimed[]>;

  /** Earliest runAt among queued jobs of these tasks (to sleep until then), or null. */
  nextRunAt(tasks: string[]): Promise<number | null>;

  /**
   * Extends the leases of these attempts to now + leaseMs. Returns the fences that are no longer valid (lease
   * expired or taken over: the worker must kill those attempts and not record anything) and the fences whose job
   * has been asked to cancel, and (snapshotRequested) those a requester wants a look inside (`inspect --now`).
   * `held` (a subset of fences) are the attempts still waiting in the worker's prefetch buffer: they stay or become
   * held, every other renewed attempt is marked started (see ClaimRequest.start).
   */
  renewLeases(workerId: string, fences: Fence[], leaseMs: number, held?: Fence[]): Promise<{ lost: Fence[]; cancelRequested: Fence[]; snapshotRequested?: SnapshotRequest[] }>;

  /**
   * Asks the worker holding a running job's lease for a snapshot (a hang report taken without stopping anything):
   * stamps the job with the store clock; the worker sees it at its next lease renewal. Null when the job does not
   * exist; requestedAt null when it is not running (nothing is stamped).
   */
  requestSnapshot(jobId: string): Promise<{ state: JobState; requestedAt: number | null } | null>;

  /**
   * Stores a snapshot on a still-running attempt (fenced: false when the attempt is over or taken over) and clears
   * the job's request if it is not newer than the one answered.
   */
  saveSnapshot(fence: Fence, snapshot: AttemptSnapshot): Promise<boolean>;

  /** Batched heartbeats and progress; stale fences are ignored. */
  recordActivity(updates: ActivityUpdate[]): Promise<void>;

  /** Batched log lines; lines of stale fences are dropped. Each job's lines get increasing `seq`. */
  appendLogs(lines: NewLogLine[]): Promise<void>;

  /**
   * Ends an attempt (fenced) with the outcome the engine reports, and moves the job to the state nextState()
   * (src/store/next-state.ts, DESIGN G9) decides from the locked row, the job's STORED retry policy and the store's
   * clock: succeeded; queued again at a later runAt; failed (kind `deadline` when the retry could not start before
   * the job's deadline); or cancelled. The attempt keeps its own outcome. `charged: false` (worker shutdown, a shared
   * executor host lost for another job) does not count the attempt against maxAttempts.
   * Returns the job after the change, or null, changing nothing, when the fence is stale.
   */
  finishAttempt(fence: Fence, finish: AttemptFinish): Promise<Job | null>;

  /**
   * Recovers attempts whose lease expired (their worker died or froze): each attempt ends `crashed` (charged), and
   * nextState() decides its job exactly as for a reported crash. An attempt still held (claimed into a prefetch
   * buffer, never handed a slot: ClaimRequest.start) ends uncharged instead — at most HELD_RECOVERIES_MAX times per
   * job, since the store learns of a start only at the next lease renewal. At most 500 per call (oldest expiry
   * first), so a backlog never makes one call long; the engine calls it periodically and the next call takes the rest. Returns
   * those jobs, after the change.
   */
  recoverExpired(): Promise<Job[]>;

  /**
   * Cancels jobs and their whole subtrees. Queued jobs become `cancelled` at once; running ones get
   * cancelRequested (their worker sees it on its next lease renewal and kills the attempt). Terminal jobs are left
   * as they are. Returns the jobs named, after the change (missing ids are omitted).
   */
  cancel(jobIds: string[], reason: string): Promise<Job[]>;

  /** A failed or cancelled job back to `queued` with a fresh attempt budget. Throws for other states. */
  retry(jobId: string): Promise<Job>;

  get(jobId: string): Promise<Job | null>;
  getMany(jobIds: string[]): Promise<Job[]>;
  list(filter: JobFilter): Promise<Job[]>;
  /** Children of a parent, in creation order. */
  children(parentId: string): Promise<Job[]>;
  attempts(jobId: string): Promise<Attempt[]>;
  logs(jobId: string, options?: { afterSeq?: number; limit?: number; attempt?: number; tail?: boolean }): Promise<LogLine[]>;
  counts(): Promise<Record<JobState, number>>;

  /** A job with its attempts and children, read in ONE transaction (never assembled from two moments). */
  jobDetail(jobId: string): Promise<JobDetail | null>;
  /** Counts by state and task, the oldest runnable queued job, and jobs finished per bucket over a window. */
  stats(options: StatsOptions): Promise<StoreStats>;
  /** Queued jobs (delayed ones included): all of them, and those of one task. For admission limits. */
  queueDepth(task: string): Promise<{ total: number; task: number }>;
  /**
   * Durable job events (one per state, attempt or cancel-request change, written by triggers) with seq > afterSeq,
   * in seq order. seq only grows; on PostgreSQL a lower seq may still become visible after a higher one (concurrent
   * commits), see src/server/event-feed.ts.
   */
  eventsAfter(afterSeq: number, limit: number): Promise<JobEvent[]>;
  /** The highest event seq, 0 when none. */
  lastEventSeq(): Promise<number>;

  /** Workers announce themselves and the tasks they serve, so `submit` without a tasks module can check names. */
  registerWorker(info: WorkerInfo): Promise<void>;
  workerHeartbeat(workerId: string, stats: Json): Promise<void>;
  unregisterWorker(workerId: string): Promise<void>;
  /**
   * The processes a worker's process has started (migration 007): replaces the worker's record; an empty `roots`
   * deletes it. Read back by the next worker on the same host to reap survivors of a SIGKILLed one.
   */
  saveProcessRoots(record: ProcessRootsRecord): Promise<void>;
  listProcessRoots(host: string): Promise<ProcessRootsRecord[]>;
  listWorkers(): Promise<WorkerRecord[]>;
  /** Tasks announced by workers seen within `sinceMs` (most recent definition wins). */
  knownTasks(): Promise<TaskRecord[]>;

  /**
   * Everything `vigil doctor`, `/readyz` and the queue metrics read, in one consistent pass (src/ops): workers with
   * their lease and tasks, per-task queue depth, running jobs whose lease expired, jobs past their deadline, running
   * parents whose children have all ended, hang outcomes and supervisor freezes since `sinceMs` (store clock).
   * Each list holds at most `limit` rows.
   */
  opsSnapshot(options: { sinceMs: number; limit: number }): Promise<OpsSnapshot>;
  /** A supervisor freeze seen by the watchdog (G8), kept so `doctor` can show the frozen stack later. */
  recordFreeze(freeze: NewFreeze): Promise<void>;

  /**
   * State changes, for waking idle loops and waiters without busy polling. SQLite delivers events of this process
   * only (other processes are seen by polling); PostgreSQL delivers every process's events through LISTEN/NOTIFY.
   * Delivery happens after the change committed, never inside the writing call's result: a listener that throws
   * does not fail the write and does not keep the event from the other listeners, and its error is not swallowed:
   * it is rethrown on its own microtask, so it reaches `process.on('uncaughtException')` like any bug in an event
   * handler (both stores, tested in test/store-subscribers.test.ts).
   */
  subscribe(listener: (event: StoreEvent) => void): () => void;
  /** True when events from other processes arrive through subscribe (no need for a fast poll). */
  readonly crossProcessEvents: boolean;

  close(): Promise<void>;
  /** `await using store = await openStore(url)`: calls close(). */
  [Symbol.asyncDispose](): Promise<void>;

  // ── Flow control (schedules, rate limits, retention): src/store/{sqlite,postgres}/{schedules,rate-limit,prune}.ts

  /**
   * Registers schedules (insert the missing ones with last tick = now, so a new schedule never back-fills from the
   * past; update task and spec of existing ones) and returns every stored schedule.
   */
  syncSchedules(schedules: ScheduleUpsert[]): Promise<ScheduleState[]>;
  /**
   * Compare-and-set on a schedule's last tick, in one transaction with the enqueue of its tick jobs: applies only
   * when the stored last tick still equals `expectedLastTickAt` (another worker did not handle these ticks first).
   */
  fireSchedule(fire: ScheduleFire): Promise<{ fired: boolean; jobs: Job[] }>;
  listSchedules(): Promise<ScheduleState[]>;
  /** No job of `task` is claimed before now + forMs (RetryAfterError with pauseTask). Never shortens a pause. */
  pauseTask(task: string, forMs: number, reason: string): Promise<void>;
  /** Active pauses and rate-limit windows, for `why`/`status`. */
  flowState(): Promise<{ pauses: Array<{ task: string; until: number; reason: string }> }>;
  /**
   * Deletes (or with dryRun counts) up to `limit` top-level finished jobs matching the request, each with its whole
   * subtree of children, attempts and logs — one short transaction. `more` says another batch would find more.
   */
  prune(request: PruneRequest): Promise<PruneResult>;
  /** Deletes up to `limit` log lines older than the cutoff, of jobs finished before it; one short transaction. */
  pruneLogs(request: PruneLogsRequest): Promise<PruneResult>;
  /** Gives freed pages back to the file system (SQLite incremental vacuum; PostgreSQL: a VACUUM of Vigil's tables). */
  compact(options?: { full?: boolean }): Promise<void>;
}

export interface Fence {
  jobId: string;
  attempt: number;
  workerId: string;
}

export interface NewJob {
  task: string;
  input: Json;
  retry: RetryPolicy;
  priority?: number;
  /** Run no earlier than now + delayMs. */
  delayMs?: number;
  /**
   * The job fails with kind `deadline` once now + deadlineMs passes. A child's deadline is never later than its
   * parent's: the store caps it (one deadline bounds a whole job tree).
   */
  deadlineMs?: number | null;
  parentId?: string | null;
  childKey?: string | null;
  idempotencyKey?: string | null;
}

export interface EnqueueResult {
  job: Job;
  created: boolean;
}

export interface ClaimRequest {
  workerId: string;
  leaseMs: number;
  limit: number;
  /** Task name → the most jobs of that task this claim may take. Only these tasks are claimed. */
  tasks: Record<string, number>;
  /** When set, claim only this job and its descendants (`vigil run` supervises one job tree). */
  rootJobId?: string;
  /**
   * Tasks under a rate limit: a job of one is claimed only while fewer than `max` attempts of its bucket started
   * in the last `perMs` (checked and recorded in the claim's own transaction, across all workers). A limited job
   * stays `queued` with its runAt moved to the next free slot and a waitReason.
   */
  rateLimits?: Record<string, RateLimit>;
  /**
   * How many of the claimed jobs (in claim order) start at once; the rest wait in the worker's prefetch buffer and
   * are stored as held until a lease renewal says they started. A held attempt whose worker dies is recovered
   * without charge: a SIGKILLed worker must not cost up to a buffer's worth of jobs an attempt they never made.
   * Default: all of them start.
   */
  start?: number;
}

export interface Claimed {
  job: Job;
  fence: Fence;
}

export interface ActivityUpdate {
  fence: Fence;
  heartbeatAt?: number;
  progress?: Progress;
}

export interface NewLogLine {
  fence: Fence;
  ts: number;
  stream: LogStream;
  line: string;
}

/** What the engine reports about an attempt; the store decides what happens to the job (nextState). */
export type AttemptFinish =
  | { outcome: 'succeeded'; result: Json }
  | {
      outcome: ErrorKind;
      error: SerializedError;
      hangReport?: HangReport | null;
      /** False when the attempt's end was not the job's doing (shutdown, a shared host lost): it costs nothing. */
      charged: boolean;
      /**
       * The task asked to be run again after this long (RetryAfterError: the outside world said "not now"). Set
       * only with `charged: false`; nextState() re-queues at now + retryAfterMs unless cancel or deadline say no.
       */
      retryAfterMs?: number;
    };

export interface JobFilter {
  state?: JobState;
  task?: string;
  parentId?: string | null;
  limit?: number;
  /** Ids lower than this (newest first paging). */
  beforeId?: string;
}

export interface WorkerInfo {
  workerId: string;
  hostname: string;
  pid: number;
  concurrency: number;
  tasks: Array<{ name: string; options: Json }>;
  /** The worker's lease and how often it reports: a worker silent for longer than both (plus a margin) is lost. */
  leaseMs?: number;
  reportEveryMs?: number;
}

/** One started process: with its start time (clock ticks after boot) it can never be confused with a recycled pid. */
export interface ProcessRoot {
  pid: number;
  start: number;
  pgid: number;
}

export interface ProcessRootsRecord {
  workerId: string;
  /** Machine and pid namespace. */
  host: string;
  bootId: string;
  ownerPid: number;
  ownerStart: number;
  roots: ProcessRoot[];
}

export interface WorkerRecord {
  workerId: string;
  hostname: string;
  pid: number;
  concurrency: number;
  startedAt: number;
  lastSeenAt: number;
  stats: Json;
  /** Null for workers registered before these were recorded. */
  leaseMs?: number | null;
  reportEveryMs?: number | null;
  /** Task names this worker serves. */
  tasks?: string[];
}

export interface OpsSnapshot {
  now: number;
  schemaVersion: number;
  workers: WorkerRecord[];
  /** Per task with queued or running jobs: `runnable` are queued with runAt ≤ now; oldest is the oldest runnable. */
  queues: Array<{ task: string; queued: number; runnable: number; running: number; oldestRunnableAt: number | null }>;
  expiredLeases: Array<{ id: string; task: string; leaseOwner: string | null; leaseExpiresAt: number }>;
  pastDeadline: Array<{ id: string; task: string; state: JobState; deadlineAt: number }>;
  settledParents: Array<{ id: string; task: string; children: number; lastChildFinishedAt: number; lastHeartbeatAt: number | null }>;
  hangs: Array<{ task: string; kind: ErrorKind; count: number; lastAt: number }>;
  freezes: FreezeRecord[];
}

export interface NewFreeze {
  workerId: string;
  hostname: string;
  pid: number;
  detectedAt: number;
  /** How long the loop had not turned when the stack was taken. */
  blockedMs: number;
  /** The supervisor's JS stack at that moment (empty when it was blocked outside JavaScript). */
  stack: StackFrame[];
  notes: string[];
  /** `restart`: the watchdog ended the process (--restart-on-freeze). */
  action: 'logged' | 'restart';
}

export interface FreezeRecord extends NewFreeze {
  id: string;
}

export interface TaskRecord {
  name: string;
  options: Json;
  updatedAt: number;
}

export interface JobDetail {
  job: Job;
  attempts: Attempt[];
  children: Job[];
}

export interface StatsOptions {
  windowMs: number;
  bucketMs: number;
}

export interface StatsBucket {
  /** Start of the bucket (store clock, ms). */
  start: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface StoreStats {
  now: number;
  byState: Record<JobState, number>;
  byTask: Array<{ task: string } & Record<JobState, number>>;
  /** runAt of the queued job that has waited longest among those due now, or null. */
  oldestQueuedAt: number | null;
  buckets: StatsBucket[];
}

export interface JobEvent {
  seq: number;
  at: number;
  jobId: string;
  task: string;
  state: JobState;
  parentId: string | null;
  attempt: number;
  cancelRequested: boolean;
}

export type StoreEvent =
  | { type: 'enqueued'; tasks: string[] }
  | { type: 'finished'; jobId: string; parentId: string | null; state: JobState }
  | { type: 'cancelRequested'; jobIds: string[] }
  /** A requester wants a snapshot of this running job (PostgreSQL: NOTIFY; the lease renewal brings it anyway). */
  | { type: 'snapshotRequested'; jobId: string; requestedAt: number }
  /**
   * PostgreSQL only: the LISTEN connection failed `failures` times in a row since `since` (local clock). Until
   * `listenRestored`, events of other processes do not arrive and idle loops only wake by polling. Log it.
   */
  | { type: 'listenFailing'; failures: number; since: number; error: string }
  | { type: 'listenRestored' };

export interface RateLimit {
  max: number;
  perMs: number;
  /** The bucket of a job within its task (e.g. the tenant); one bucket per task when absent. */
  key?: (input: Json) => string;
}

export interface ScheduleUpsert {
  name: string;
  task: string;
  spec: Json;
  /** Used only when the schedule is new: ticks up to this one are never enqueued. */
  lastTickAt: number;
  nextTickAt: number | null;
}

export interface ScheduleState {
  name: string;
  task: string;
  spec: Json;
  /** The latest tick handled: enqueued, or skipped by the catch-up policy. */
  lastTickAt: number;
  lastJobId: string | null;
  lastFiredAt: number | null;
  nextTickAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ScheduleFire {
  name: string;
  expectedLastTickAt: number;
  lastTickAt: number;
  nextTickAt: number | null;
  /** One job per tick, each with idempotencyKey `schedule:<name>:<tick>` as a second guard. */
  jobs: NewJob[];
}

export type FinishedState = 'succeeded' | 'failed' | 'cancelled';

export interface PruneRequest {
  /** Jobs finished before this store time. */
  finishedBefore: number;
  states: FinishedState[];
  /** Only these tasks; all when absent. */
  tasks?: string[];
  /** Never these tasks (they have their own retention). */
  exceptTasks?: string[];
  limit: number;
  dryRun?: boolean;
}

export interface PruneLogsRequest {
  finishedBefore: number;
  tasks?: string[];
  exceptTasks?: string[];
  limit: number;
}

export interface PruneResult {
  /** Jobs deleted (or that would be, with dryRun), children included; for pruneLogs, log lines deleted. */
  count: number;
  more: boolean;
}

/** A fence whose job has a pending snapshot request, with the request's store-clock stamp. */
export interface SnapshotRequest {
  fence: Fence;
  requestedAt: number;
}
