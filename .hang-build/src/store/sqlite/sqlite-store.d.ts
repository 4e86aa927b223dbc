import type { Attempt, Job, JobState, Json, LogLine } from '../../types.js';
import type { ActivityUpdate, AttemptFinish, ClaimRequest, Claimed, EnqueueResult, Fence, JobFilter, NewJob, NewLogLine, Store, StoreEvent, TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
/**
 * The Store contract on one SQLite file (better-sqlite3, WAL). Several processes may share the file: every write
 * is one BEGIN IMMEDIATE transaction, so they serialise on SQLite's write lock and never see a half-done batch.
 * The clock is this process's Date.now() (one machine). Methods are async only to share the contract with
 * PostgreSQL; the work itself is synchronous and short.
 */
export declare class SqliteStore implements Store {
    private readonly db;
    readonly path: string;
    readonly kind: "sqlite";
    readonly crossProcessEvents = false;
    readonly description: string;
    private readonly events;
    private closed;
    private constructor();
    /** Opens or creates the file and applies migrations. Throws StoreUnavailableError (nothing created) when it can't. */
    static open(path: string): Promise<SqliteStore>;
    now(): Promise<number>;
    enqueue(newJobs: NewJob[]): Promise<EnqueueResult[]>;
    claim(request: ClaimRequest): Promise<Claimed[]>;
    nextRunAt(tasks: string[]): Promise<number | null>;
    renewLeases(workerId: string, fences: Fence[], leaseMs: number): Promise<{
        lost: Fence[];
        cancelRequested: Fence[];
    }>;
    recordActivity(updates: ActivityUpdate[]): Promise<void>;
    appendLogs(lines: NewLogLine[]): Promise<void>;
    finishAttempt(fence: Fence, finish: AttemptFinish): Promise<boolean>;
    recoverExpired(): Promise<Job[]>;
    cancel(jobIds: string[], reason: string): Promise<Job[]>;
    retry(jobId: string): Promise<Job>;
    get(jobId: string): Promise<Job | null>;
    getMany(jobIds: string[]): Promise<Job[]>;
    list(filter: JobFilter): Promise<Job[]>;
    children(parentId: string): Promise<Job[]>;
    attempts(jobId: string): Promise<Attempt[]>;
    logs(jobId: string, options?: {
        afterSeq?: number;
        limit?: number;
        attempt?: number;
        tail?: boolean;
    }): Promise<LogLine[]>;
    counts(): Promise<Record<JobState, number>>;
    registerWorker(info: WorkerInfo): Promise<void>;
    workerHeartbeat(workerId: string, stats: Json): Promise<void>;
    unregisterWorker(workerId: string): Promise<void>;
    listWorkers(): Promise<WorkerRecord[]>;
    knownTasks(): Promise<TaskRecord[]>;
    subscribe(listener: (event: StoreEvent) => void): () => void;
    close(): Promise<void>;
    /** One BEGIN IMMEDIATE transaction; events are emitted only after it committed. */
    private write;
    private read;
    private checkOpen;
    /** Our own errors pass through; driver errors say which file and what to do. */
    private wrap;
}
/** Same as SqliteStore.open. */
export declare function openSqliteStore(path: string): Promise<SqliteStore>;
