import type { Json } from '../../types.js';
import type { TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
import type { Db } from './db.js';
/** The worker row and every task it serves, in one statement; the latest announcement of a task wins. */
export declare function registerWorker(db: Db, info: WorkerInfo): Promise<void>;
export declare function workerHeartbeat(db: Db, workerId: string, stats: Json): Promise<void>;
export declare function unregisterWorker(db: Db, workerId: string): Promise<void>;
export declare function listWorkers(db: Db): Promise<WorkerRecord[]>;
export declare function knownTasks(db: Db): Promise<TaskRecord[]>;
