import type { Attempt, AttemptOutcome, AttemptSnapshot, HangReport, Job, JobState, Json, Progress, SerializedError } from '../types.js';
import type { JobFacts } from './next-state.js';

/**
 * Row ↔ object mapping shared by both stores, so they return identical objects. Column names are the SQL ones
 * (snake_case). Tolerant on input types so SQLite (numbers, JSON as text) and PostgreSQL (bigint as string) can
 * both use it.
 */

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
  wait_reason?: string | null;
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
  snapshot?: JsonCell;
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
    waitReason: r.wait_reason ?? null,
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
    snapshot: r.snapshot === undefined ? null : parseJson<AttemptSnapshot>(r.snapshot),
  };
}

/** Ids are decimal strings of an integer sequence; anything else names no job (and must not reach SQL as-is). */
export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,17}$/.test(id);
}

/** The facts of a locked job row that nextState() decides on. */
export function jobFacts(r: JobRow): JobFacts {
  return {
    chargedAttempts: num(r.charged_attempts),
    deadlineAt: numOrNull(r.deadline_at),
    cancelRequested: r.cancel_requested === true || Number(r.cancel_requested) === 1,
    cancelReason: r.cancel_reason ?? null,
  };
}
