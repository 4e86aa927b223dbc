import type { Json } from '../../types.js';
import type { TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
import type { Db } from './connection.js';
export declare function registerWorker(db: Db, info: WorkerInfo, now: number): void;
export declare function workerHeartbeat(db: Db, workerId: string, stats: Json, now: number): void;
export declare function unregisterWorker(db: Db, workerId: string): void;
export declare function listWorkers(db: Db): WorkerRecord[];
export declare function knownTasks(db: Db): TaskRecord[];
