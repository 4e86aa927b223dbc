import type { Attempt, Job, RetryPolicy } from '../../types.js';
import type { ActivityUpdate, AttemptFinish, Fence, StoreEvent } from '../contract.js';
import { nextState, type NextState } from '../next-state.js';
import { SWEEP_BATCH } from '../requests.js';
import { isJobId, jobFacts, parseJson, rowToAttempt, rowToJob, type AttemptRow, type JobRow } from '../rows.js';
import { expiredLeaseFinish } from '../store-errors.js';
import type { Db } from './connection.js';
import { finishedEvent, type OpResult } from './jobs.js';
import { FENCED, fenceArgs, stmt } from './statements.js';

const END_ATTEMPT = `UPDATE attempts SET finished_at = @now, outcome = @outcome, charged = @charged, error = @error,
    hang_report = @hangReport WHERE job_id = @jobId AND attempt = @attempt AND finished_at IS NULL`;

// Every way out of `running` clears the lease, so nothing can renew or fence against it afterwards. Both are
// guarded by the attempt read under the same transaction's lock: they can only move the attempt they decided on.
const TO_TERMINAL = `UPDATE jobs SET state = @state, result = @result, error = @error, charged_attempts = @chargedAttempts,
    finished_at = @now, updated_at = @now, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = @jobId AND state = 'running' AND attempts = @attempt RETURNING *`;
const TO_QUEUED = `UPDATE jobs SET state = 'queued', run_at = @runAt, error = @error, charged_attempts = @chargedAttempts,
    updated_at = @now, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = @jobId AND state = 'running' AND attempts = @attempt RETURNING *`;

/**
 * Fenced end of an attempt (see Store.finishAttempt): the row is read under BEGIN IMMEDIATE's lock, nextState()
 * decides, and the decision is written. Returns null, changing nothing, for a stale fence.
 */
export function finishAttempt(db: Db, fence: Fence, finish: AttemptFinish, now: number): OpResult<Job | null> {
  if (finish.outcome === 'succeeded') return finishSucceeded(db, fence, finish, now);
  const row = stmt(db, `SELECT * FROM jobs WHERE ${FENCED}`).get(fenceArgs(fence, now)) as JobRow | undefined;
  if (!row) return { value: null, events: [] };
  const next = nextState(jobFacts(row), finish, storedPolicy(row), now);
  const after = apply(db, row, finish, next, now);
  return { value: rowToJob(after), events: [afterEvent(after)] };
}

/**
 * nextState() decides a success without reading the row (rule 1: `succeeded`, charged, the result kept, the charged
 * count one up; test/next-state.test.ts checks that for varied rows and policies), so a success is the fenced UPDATE
 * alone: no read before it (the write lock is already held), one statement instead of two, as on PostgreSQL.
 */
function finishSucceeded(db: Db, fence: Fence, finish: AttemptFinish, now: number): OpResult<Job | null> {
  const next = nextState(ANY_ROW, finish, ANY_POLICY, now);
  // A guard, not a branch: should rule 1 ever read the row, this path must go (the tests above fail first).
  if (next.state !== 'succeeded' || !next.charged || next.chargedAttempts !== 1 || next.error !== null) {
    throw new Error('nextState no longer decides a success without the row: finishSucceeded must not be used');
  }
  const after = stmt(
    db,
    `UPDATE jobs SET state = 'succeeded', result = @result, error = NULL, charged_attempts = charged_attempts + 1,
        finished_at = @now, updated_at = @now, lease_owner = NULL, lease_expires_at = NULL
      WHERE ${FENCED} RETURNING *`,
  ).get({ ...fenceArgs(fence, now), result: JSON.stringify(next.result) }) as JobRow | undefined;
  if (!after) return { value: null, events: [] };
  stmt(db, END_ATTEMPT).run({ now, jobId: Number(after.id), attempt: Number(after.attempts), outcome: 'succeeded', charged: 1, error: null, hangReport: null });
  return { value: rowToJob(after), events: [finishedEvent(after)] };
}

/** What a success's decision is made on: any row and any policy give the same (see finishSucceeded). */
const ANY_ROW = { chargedAttempts: 0, deadlineAt: null, cancelRequested: false, cancelReason: null } as const;
const ANY_POLICY = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 } as const;

/** Writes one decision: the attempt keeps its own outcome, the job takes the next state. */
function apply(db: Db, row: JobRow, finish: AttemptFinish, next: NextState, now: number): JobRow {
  const jobId = Number(row.id);
  const attempt = Number(row.attempts);
  const failed = finish.outcome !== 'succeeded';
  stmt(db, END_ATTEMPT).run({
    now,
    jobId,
    attempt,
    outcome: finish.outcome,
    charged: next.charged ? 1 : 0,
    error: failed ? JSON.stringify(finish.error) : null,
    hangReport: failed && finish.hangReport ? JSON.stringify(finish.hangReport) : null,
  });
  const common = { jobId, attempt, now, chargedAttempts: next.chargedAttempts, error: next.error ? JSON.stringify(next.error) : null };
  if (next.state === 'queued') return stmt(db, TO_QUEUED).get({ ...common, runAt: next.runAt }) as JobRow;
  return stmt(db, TO_TERMINAL).get({ ...common, state: next.state, result: next.state === 'succeeded' ? JSON.stringify(next.result) : null }) as JobRow;
}

function storedPolicy(row: JobRow): RetryPolicy {
  return parseJson<RetryPolicy>(row.retry_policy ?? null)!;
}

function afterEvent(row: JobRow): StoreEvent {
  return row.state === 'queued' ? { type: 'enqueued', tasks: [row.task] } : finishedEvent(row);
}

/**
 * Attempts whose lease expired end `crashed` (charged, unless held: expiredLeaseFinish), and nextState() decides
 * their jobs with their stored retry policy, exactly as if the worker had reported the crash. At most SWEEP_BATCH per call (oldest expiry first), so a
 * large backlog never holds the write lock, or the supervisor's loop, for long: the next call takes the rest.
 */
export function recoverExpired(db: Db, now: number): OpResult<JobRow[]> {
  const rows = stmt(
    db,
    `SELECT * FROM jobs INDEXED BY jobs_lease WHERE state = 'running' AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?`,
  ).all(now, SWEEP_BATCH) as Array<JobRow & { held: number; held_recoveries: number }>;
  const out: JobRow[] = [];
  const events: StoreEvent[] = [];
  const unstarted = stmt(db, 'UPDATE jobs SET held_recoveries = held_recoveries + 1 WHERE id = ?');
  for (const row of rows) {
    const finish = expiredLeaseFinish(row, now);
    if (!finish.charged) unstarted.run(row.id);
    const after = apply(db, row, finish, nextState(jobFacts(row), finish, storedPolicy(row), now), now);
    out.push(after);
    events.push(afterEvent(after));
  }
  return { value: out, events };
}

/** Heartbeats and progress of live attempts; stale fences change nothing. */
export function recordActivity(db: Db, updates: ActivityUpdate[], now: number): void {
  const update = stmt(
    db,
    `UPDATE jobs SET last_heartbeat_at = COALESCE(@heartbeatAt, last_heartbeat_at), progress = COALESCE(@progress, progress)
     WHERE ${FENCED}`,
  );
  for (const u of updates) {
    if (u.heartbeatAt === undefined && u.progress === undefined) continue;
    update.run({ ...fenceArgs(u.fence, now), heartbeatAt: u.heartbeatAt ?? null, progress: u.progress ? JSON.stringify(u.progress) : null });
  }
}

export function attempts(db: Db, jobId: string): Attempt[] {
  if (!isJobId(jobId)) return [];
  const rows = stmt(db, 'SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt').all(Number(jobId)) as AttemptRow[];
  return rows.map(rowToAttempt);
}
