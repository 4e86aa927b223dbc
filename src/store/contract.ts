import type {
  Attempt,
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
   * whose deadline has passed are failed with kind `deadline` instead of being claimed.
   */
  claim(request: ClaimRequest): Promise<Claimed[]>;

  /** Earliest runAt among queued jobs of these tasks (to sleep until then), or null. */
  nextRunAt(tasks: string[]): Promise<number | null>;

  /**
   * Extends the leases of these attempts to now + leaseMs. Returns the fences that are no longer valid (lease
   * expired or taken over: the worker must kill those attempts and not record anything) and the fences whose job
   * has been asked to cancel.
   */
  renewLeases(workerId: string, fences: Fence[], leaseMs: number): Promise<{ lost: Fence[]; cancelRequested: Fence[] }>;

  /** Batched heartbeats and progress; stale fences are ignored. */
  recordActivity(updates: ActivityUpdate[]): Promise<void>;

  /** Batched log lines; lines of stale fences are dropped. Each job's lines get increasing `seq`. */
  appendLogs(lines: NewLogLine[]): Promise<void>;

  /**
   * Ends an attempt (fenced). Returns false, changing nothing, when the fence is stale.
   * - succeeded: job `succeeded` with the result.
   * - failure with retryInMs ≠ null: job back to `queued` at now + retryInMs — unless its deadline would pass
   *   first: then `failed` with kind `deadline` (the attempt keeps its own outcome).
   * - failure with retryInMs = null: job `cancelled` if outcome is `cancelled`, else `failed`.
   * `charged: false` (worker shutdown, a shared executor host lost for another job) does not count the attempt
   * against maxAttempts.
   */
  finishAttempt(fence: Fence, finish: AttemptFinish): Promise<boolean>;

  /**
   * Recovers attempts whose lease expired (their worker died or froze): each attempt ends `crashed` (charged), and
   * its job is re-queued with the job's retry policy or failed when attempts are exhausted. Returns those jobs.
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

  /** Workers announce themselves and the tasks they serve, so `submit` without a tasks module can check names. */
  registerWorker(info: WorkerInfo): Promise<void>;
  workerHeartbeat(workerId: string, stats: Json): Promise<void>;
  unregisterWorker(workerId: string): Promise<void>;
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
   */
  subscribe(listener: (event: StoreEvent) => void): () => void;
  /** True when events from other processes arrive through subscribe (no need for a fast poll). */
  readonly crossProcessEvents: boolean;

  close(): Promise<void>;
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
  /** The job fails with kind `deadline` once now + deadlineMs passes. */
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

export type AttemptFinish =
  | { outcome: 'succeeded'; result: Json }
  | {
      outcome: ErrorKind;
      error: SerializedError;
      hangReport?: HangReport | null;
      charged: boolean;
      /** null: final. */
      retryInMs: number | null;
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

export type StoreEvent =
  | { type: 'enqueued'; tasks: string[] }
  | { type: 'finished'; jobId: string; parentId: string | null; state: JobState }
  | { type: 'cancelRequested'; jobIds: string[] };
