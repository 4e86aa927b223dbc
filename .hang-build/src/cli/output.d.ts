import type { Attempt, Job, Json, Progress, SerializedError } from '../types.js';
/** Everything the CLI prints as data goes through here, so text and JSON stay in step. */
export declare function printJson(value: unknown, out?: NodeJS.WritableStream): void;
export declare function print(text: string, out?: NodeJS.WritableStream): void;
export declare function printJob(job: Job, json: boolean | undefined): void;
export declare function iso(ms: number): string;
export declare function ago(ms: number, now?: number): string;
export declare function formatProgress(p: Progress | null): string | null;
export declare function formatError(e: SerializedError): string;
/** A compact one-line JSON for results in text output; long values are cut (use --json for all of it). */
export declare function briefJson(value: Json, max?: number): string;
/** The job as labelled lines: what `status`, `cancel`, `retry` and `run` print without --json. */
export declare function formatJob(job: Job, now?: number): string;
export declare function formatAttempt(a: Attempt): string;
/** A plain aligned table; the last column is not padded. */
export declare function table(header: string[], rows: string[][]): string;
