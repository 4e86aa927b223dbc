import type { Worker } from 'node:worker_threads';
import type { HangReport } from '../types.js';
export declare function captureThreadStack(worker: Worker, budgetMs: number): Promise<HangReport['where']>;
/**
 * Node 20 passes messages to a worker's inspector in a way that mangles non-ASCII characters: a probe holding a
 * "×" came back as "Message must be a valid JSON" and the capture then waited its whole budget for an answer that
 * never came (the compiled build keeps such characters literally, tsx escapes them). JSON escapes are ASCII.
 */
export declare function asciiJson(value: unknown): string;
