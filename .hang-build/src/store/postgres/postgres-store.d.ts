import pg from 'pg';
import type { Attempt, Job, JobState, Json, LogLine } from '../../types.js';
import type { ActivityUpdate, AttemptFinish, ClaimRequest, Claimed, EnqueueResult, Fence, JobFilter, NewJob, NewLogLine, Store, StoreEvent, TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
export interface PostgresStoreOptions {
    /** Pooled connections for queries (the LISTEN connection is extra). Default 4. */
    poolSize?: number;
    /** Slow poll behind LISTEN/NOTIFY, for notifications lost anyway. Default 10 s. */
    pollMs?: number;
}
/**
 * Opens (and migrates) the store at `postgres://…[?schema=NAME]`. Fails with StoreUnavailableError when the
 * database can not be reached, and with UsageError for a malformed URL.
 */
export declare function openPostgresStore(url: string, options?: PostgresStoreOptions): Promise<PostgresStore>;
export declare class PostgresStore implements Store {
    /** Unquoted schema name. */
    readonly schema: string;
    readonly description: string;
    /** `application_name` of every connection of this store (to find them in pg_stat_activity). */
    readonly applicationName: string;
    readonly kind: "postgres";
    readonly crossProcessEvents = true;
    private readonly pool;
    private readonly db;
    private readonly listener;
    private readonly listeners;
    private closed;
    constructor(
    /** Unquoted schema name. */
    schema: string, description: string, clientConfig: pg.ClientConfig, 
    /** `application_name` of every connection of this store (to find them in pg_stat_activity). */
    applicationName: string, options?: PostgresStoreOptions);
    /** Connections made by the LISTEN side so far (1 + reconnections). */
    get listenConnections(): number;
    get listening(): boolean;
    private get q();
    now(): Promise<number>;
    enqueue(jobs: NewJob[]): Promise<EnqueueResult[]>;
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
    /** The LISTEN connection is opened on the first subscription: one-shot CLI commands never hold one. */
    subscribe(listener: (event: StoreEvent) => void): () => void;
    /** Resolves when the LISTEN connection is up (tests; a worker does not need to wait for it). */
    whenListening(): Promise<void>;
    close(): Promise<void>;
    private emit;
    private runnableTasks;
}
