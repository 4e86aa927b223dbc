import type { Attempt, AttemptOutcome, HangReport, Job, JobState, Json, Progress, SerializedError } from '../types.js';

/**
 * Row ↔ object mapping and the small rules both stores share (log line cut, retention, the errors the store itself
 * writes). Column names are the SQL ones (snake_case). Tolerant on input types so SQLite (numbers, JSON as text)
 * and PostgreSQL (bigint as string, jsonb already parsed) can both use it.
 */

/** A log line longer than this (UTF-8 bytes) is cut, so one runaway line can not bloat the store. */
export const MAX_LOG_LINE_BYTES = 8 * 1024;
/** Each job keeps at most about this many of its latest log lines; older ones are deleted in chunks. */
export const LOG_RETENTION_LINES = 10_000;
/** Retention runs when a job's seq crosses a multiple of this: one cheap indexed delete per chunk, not per insert. */
export const LOG_RETENTION_CHUNK = 1_000;

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
  // Columns the Job type does not show, used inside the store.
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

export function num(v: Int): number {
  return typeof v === 'number' ? v : Number(v);
}

export function numOrNull(v: Int | null | undefined): number | null {
  return v === null || v === undefined ? null : num(v);
}

/** JSON columns: text in SQLite, already parsed in PostgreSQL jsonb. SQL NULL and JSON null both read as null. */
export function parseJson<T>(v: JsonCell | undefined): T | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

export function toJsonText(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

export function rowToJob(r: JobRow): Job {
  return {
    id: String(r.id),
    task: r.task,
    state: r.state as JobState,
    // Input is never SQL NULL; parseJson turns the stored JSON `null` back into null.
    input: parseJson<Json>(r.input),
    result: parseJson<Json>(r.result),
    error: parseJson<SerializedError>(r.error),
    attempts: num(r.attempts),
    chargedAttempts: num(r.charged_attempts),
    maxAttempts: num(r.max_attempts),
    parentId: r.parent_id === null ? null : String(r.parent_id),
    childKey: r.child_key,
    idempotencyKey: r.idempotency_key,
    priority: num(r.priority),
    runAt: num(r.run_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    deadlineAt: numOrNull(r.deadline_at),
    progress: parseJson<Progress>(r.progress),
    lastHeartbeatAt: numOrNull(r.last_heartbeat_at),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    cancelRequested: r.cancel_requested === true || Number(r.cancel_requested) === 1,
    cancelReason: r.cancel_reason ?? null,
  };
}

export function rowToAttempt(r: AttemptRow): Attempt {
  return {
    jobId: String(r.job_id),
    attempt: num(r.attempt),
    workerId: r.worker_id,
    startedAt: num(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    outcome: r.outcome as AttemptOutcome | null,
    charged: r.charged === true || Number(r.charged) === 1,
    error: parseJson<SerializedError>(r.error),
    hangReport: parseJson<HangReport>(r.hang_report),
  };
}

/** Ids are decimal strings of an integer sequence; anything else names no job (and must not reach SQL as-is). */
export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,17}$/.test(id);
}

/**
 * Cuts a line to MAX_LOG_LINE_BYTES of UTF-8, marker included, on a character boundary:
 * `<start of the line>…[cut N bytes]`, N being the bytes removed.
 */
export function cutLogLine(line: string): string {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes <= MAX_LOG_LINE_BYTES) return line;
  const buf = Buffer.from(line, 'utf8');
  // The marker's own length depends on N; 40 bytes is ample for "…[cut 123456789 bytes]".
  let keep = MAX_LOG_LINE_BYTES - 40;
  // Never split a multi-byte character: back off continuation bytes (10xxxxxx).
  while (keep > 0 && (buf[keep]! & 0xc0) === 0x80) keep--;
  return `${buf.subarray(0, keep).toString('utf8')}…[cut ${bytes - keep} bytes]`;
}

/** The error a job gets when its deadline passes while it is not running. */
export function deadlineError(deadlineAt: number, now: number, last?: SerializedError | null): SerializedError {
  const when = new Date(deadlineAt).toISOString();
  const err: SerializedError = {
    kind: 'deadline',
    message: last
      ? `the job's deadline (${when}) passes before its next attempt could run; the last attempt ended with ${last.kind}: ${last.message}`
      : `the job's deadline (${when}) passed ${Math.max(0, now - deadlineAt)} ms before a worker could start it; raise the task's "deadline" or add workers`,
    retryable: false,
    details: { deadlineAt },
  };
  if (last) err.cause = last;
  return err;
}

/** The error of an attempt whose lease expired: its worker crashed, was killed, or froze. */
export function leaseLostError(workerId: string | null, leaseExpiresAt: number | null, now: number): SerializedError {
  return {
    kind: 'crashed',
    message: `worker ${workerId ?? '?'} stopped renewing its lease (it crashed, was killed or froze); lease expired ${leaseExpiresAt === null ? '' : `${now - leaseExpiresAt} ms `}before recovery`,
    code: 'VIGIL_LEASE_LOST',
    details: { workerId, leaseExpiresAt },
  };
}

/** The error of a queued job cancelled before it ran, or a job cancelled after its attempt ended. */
export function cancelledError(reason: string): SerializedError {
  return { kind: 'cancelled', message: reason || 'cancelled', retryable: false };
}
