import type { Attempt, Job, LogLine, LogStream } from '../../types.js';
import { isJobId, rowToAttempt, rowToJob, type AttemptRow, type JobRow } from '../rows.js';
import type { Row } from './db.js';

/** Columns of a job row, in SELECT lists and RETURNING clauses (prefix with an alias when joining). */
export const JOB_COLUMNS = [
  'id', 'task', 'state', 'input', 'result', 'error', 'attempts', 'charged_attempts', 'max_attempts', 'parent_id',
  'child_key', 'idempotency_key', 'priority', 'run_at', 'created_at', 'updated_at', 'started_at', 'finished_at',
  'deadline_at', 'progress', 'last_heartbeat_at', 'lease_owner', 'lease_expires_at', 'cancel_requested',
  'wait_reason',
];

export function jobColumns(alias?: string): string {
  return alias ? JOB_COLUMNS.map((c) => `${alias}.${c}`).join(', ') : JOB_COLUMNS.join(', ');
}

// The mapping itself is shared with SQLite (src/store/rows.ts): both stores return identical objects.
export function toJob(r: Row): Job {
  return rowToJob(r as unknown as JobRow);
}

export function toAttempt(r: Row): Attempt {
  return rowToAttempt(r as unknown as AttemptRow);
}

export function toLogLine(r: Row): LogLine {
  return {
    jobId: String(r.job_id),
    attempt: Number(r.attempt),
    seq: Number(r.seq),
    ts: Number(r.ts),
    stream: r.stream as LogStream,
    line: String(r.line),
  };
}

export function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** JSON input and results must be JSON: `undefined` (a task that returned nothing) is stored as null. */
export function jsonValue(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** Ids are decimal strings; anything else can never match a row, and must not reach a bigint cast. */
export function validIds(ids: readonly string[]): string[] {
  return ids.filter(isJobId);
}
