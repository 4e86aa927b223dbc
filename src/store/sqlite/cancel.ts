import { JobNotFoundError, UsageError } from '../../errors.js';
import type { Job } from '../../types.js';
import type { StoreEvent } from '../contract.js';
import { isJobId, type JobRow } from '../rows.js';
import { cancelledError } from '../store-errors.js';
import type { Db } from './connection.js';
import { finishedEvent, get, getMany, type OpResult } from './jobs.js';
import { stmt } from './statements.js';

/**
 * Cancels the named jobs and every descendant (one recursive CTE walks the subtree): queued ones end at once,
 * running ones get cancelRequested for their worker to act on at its next lease renewal.
 */
export function cancel(db: Db, jobIds: string[], reason: string, now: number): OpResult<Job[]> {
  const ids = jobIds.filter(isJobId).map(Number);
  if (ids.length === 0) return { value: [], events: [] };
  const tree = stmt(
    db,
    `WITH RECURSIVE sub(id) AS (
       SELECT CAST(value AS INTEGER) FROM json_each(?)
       UNION SELECT j.id FROM jobs j JOIN sub ON j.parent_id = sub.id)
     SELECT j.id, j.state, j.cancel_requested FROM jobs j JOIN sub ON j.id = sub.id`,
  ).all(JSON.stringify(ids)) as Array<{ id: number; state: string; cancel_requested: number }>;
  const error = JSON.stringify(cancelledError(reason));
  const endQueued = stmt(
    db,
    `UPDATE jobs SET state = 'cancelled', error = ?, cancel_reason = ?, finished_at = ?, updated_at = ?
     WHERE id = ? AND state = 'queued' RETURNING *`,
  );
  const flagRunning = stmt(
    db,
    `UPDATE jobs SET cancel_requested = 1, cancel_reason = ?, updated_at = ? WHERE id = ? AND state = 'running' AND cancel_requested = 0`,
  );
  const events: StoreEvent[] = [];
  const requested: string[] = [];
  for (const t of tree) {
    if (t.state === 'queued') {
      const row = endQueued.get(error, reason, now, now, t.id) as JobRow | undefined;
      if (row) events.push(finishedEvent(row));
    } else if (t.state === 'running' && !t.cancel_requested) {
      if (flagRunning.run(reason, now, t.id).changes) requested.push(String(t.id));
    }
  }
  if (requested.length) events.push({ type: 'cancelRequested', jobIds: requested });
  return { value: getMany(db, ids.map(String)), events };
}

/** A failed or cancelled job back to the queue, with a fresh attempt budget and, if it has one, a fresh deadline. */
export function retry(db: Db, jobId: string, now: number): OpResult<JobRow> {
  const row = get(db, jobId);
  if (!row) throw new JobNotFoundError(jobId);
  if (row.state !== 'failed' && row.state !== 'cancelled') {
    throw new UsageError('VIGIL_INVALID_STATE', `job ${jobId} is ${row.state}: only failed or cancelled jobs can be retried`);
  }
  // Attempt numbers keep growing (they are part of every fence); the charged count starts again, and so does the
  // allowance of free recoveries while held (store-errors.ts).
  const after = stmt(
    db,
    `UPDATE jobs SET state = 'queued', charged_attempts = 0, held_recoveries = 0, run_at = @now, updated_at = @now,
       result = NULL, error = NULL, finished_at = NULL, cancel_requested = 0, cancel_reason = NULL, lease_owner = NULL, lease_expires_at = NULL,
       deadline_at = CASE WHEN deadline_ms IS NULL THEN NULL ELSE @now + deadline_ms END
     WHERE id = @id RETURNING *`,
  ).get({ id: Number(jobId), now }) as JobRow;
  return { value: after, events: [{ type: 'enqueued', tasks: [after.task] }] };
}
