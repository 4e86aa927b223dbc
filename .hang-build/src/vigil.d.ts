import type { Store } from './store/contract.js';
import { type TaskDefinition } from './task/define.js';
import { type Duration } from './task/duration.js';
import { Worker, type WorkerOptions } from './engine/worker.js';
import type { Attempt, Job, JobState, Json, LogLine } from './types.js';
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
export declare class Vigil {
    readonly store: Store;
    private readonly ownsStore;
    private readonly tasks;
    private readonly tasksModule;
    private readonly maxPayloadBytes;
    private readonly workers;
    private closed;
    private constructor();
    static open(options: VigilOptions): Promise<Vigil>;
    submit<I = Json>(task: string | TaskDefinition<I, unknown>, input: I, options?: SubmitOptions): Promise<Job>;
    get(id: string): Promise<Job>;
    /** Resolves with the job once it is succeeded, failed or cancelled. */
    wait(id: string, options?: {
        timeout?: Duration;
        signal?: AbortSignal;
    }): Promise<Job>;
    /** Cancels a job and its subtree; a running attempt is aborted and killed. */
    cancel(id: string, reason?: string): Promise<Job>;
    retry(id: string): Promise<Job>;
    list(filter?: {
        state?: JobState;
        task?: string;
        parentId?: string | null;
        limit?: number;
    }): Promise<Job[]>;
    children(id: string): Promise<Job[]>;
    attempts(id: string): Promise<Attempt[]>;
    logs(id: string, options?: {
        afterSeq?: number;
        limit?: number;
        attempt?: number;
        tail?: boolean;
    }): Promise<LogLine[]>;
    /** A worker in this process. Its task code runs in executor threads and processes, never here. */
    startWorker(options?: StartWorkerOptions): Promise<Worker>;
    close(): Promise<void>;
    private checkOpen;
    private taskPolicy;
    private checkInput;
}
