import type { Attempt, Job, Json, SerializedError } from '../types.js';
/**
 * Row ↔ object mapping and the small rules both stores share (log line cut, retention, the errors the store itself
 * writes). Column names are the SQL ones (snake_case). Tolerant on input types so SQLite (numbers, JSON as text)
 * and PostgreSQL (bigint as string, jsonb already parsed) can both use it.
 */
/** A log line longer than this (UTF-8 bytes) is cut, so one runaway line can not bloat the store. */
export declare const MAX_LOG_LINE_BYTES: number;
/** Each job keeps at most about this many of its latest log lines; older ones are deleted in chunks. */
export declare const LOG_RETENTION_LINES = 10000;
/** Retention runs when a job's seq crosses a multiple of this: one cheap indexed delete per chunk, not per insert. */
export declare const LOG_RETENTION_CHUNK = 1000;
type Int = number | string | bigint;
type JsonCell = string | Json | null;
export interface JobRow {
    id: Int;
    task: string;
    state: string;
    input: JsonCell;
    result: JsonCell;
    error: JsonCell;
    attempts: Int;
    charged_attempts: Int;
    max_attempts: Int;
    parent_id: Int | null;
    child_key: string | null;
    idempotency_key: string | null;
    priority: Int;
    run_at: Int;
    created_at: Int;
    updated_at: Int;
    started_at: Int | null;
    finished_at: Int | null;
    deadline_at: Int | null;
    progress: JsonCell;
    last_heartbeat_at: Int | null;
    lease_owner: string | null;
    lease_expires_at: Int | null;
    cancel_requested: Int | boolean;
    retry_policy?: JsonCell;
    cancel_reason?: string | null;
    deadline_ms?: Int | null;
    log_seq?: Int;
}
export interface AttemptRow {
    job_id: Int;
    attempt: Int;
    worker_id: string;
    started_at: Int;
    finished_at: Int | null;
    outcome: string | null;
    charged: Int | boolean;
    error: JsonCell;
    hang_report: JsonCell;
}
export declare function num(v: Int): number;
export declare function numOrNull(v: Int | null | undefined): number | null;
/** JSON columns: text in SQLite, already parsed in PostgreSQL jsonb. SQL NULL and JSON null both read as null. */
export declare function parseJson<T>(v: JsonCell | undefined): T | null;
export declare function toJsonText(v: unknown): string | null;
export declare function rowToJob(r: JobRow): Job;
export declare function rowToAttempt(r: AttemptRow): Attempt;
/** Ids are decimal strings of an integer sequence; anything else names no job (and must not reach SQL as-is). */
export declare function isJobId(id: unknown): id is string;
/**
 * Cuts a line to MAX_LOG_LINE_BYTES of UTF-8, marker included, on a character boundary:
 * `<start of the line>…[cut N bytes]`, N being the bytes removed.
 */
export declare function cutLogLine(line: string): string;
/** The error a job gets when its deadline passes while it is not running. */
export declare function deadlineError(deadlineAt: number, now: number, last?: SerializedError | null): SerializedError;
/** The error of an attempt whose lease expired: its worker crashed, was killed, or froze. */
export declare function leaseLostError(workerId: string | null, leaseExpiresAt: number | null, now: number): SerializedError;
/** The error of a queued job cancelled before it ran, or a job cancelled after its attempt ended. */
export declare function cancelledError(reason: string): SerializedError;
export {};
