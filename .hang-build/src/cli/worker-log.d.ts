import type { Worker } from '../engine/worker.js';
import type { Vigil } from '../vigil.js';
/**
 * One stderr line per notable worker event (started, finished, retrying, enforcing, errors): enough to follow a
 * worker in a terminal or a log file; details stay in the store (`vigil inspect`).
 */
export declare function logWorkerEvents(worker: Worker, vigil: Vigil, write?: (line: string) => void): () => void;
