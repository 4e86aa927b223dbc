import { JobNotFoundError, UsageError } from '../../errors.js';
import type { Job } from '../../types.js';
import { cancelledError } from '../store-errors.js';
import type { Db } from './db.js';
import { orderByIds } from '../requests.js';
import { jobColumns, toJob, validIds } from './rows.js';

/**
 * One statement over the whole subtree. The UPDATE's CASE is evaluated on the row as it is when the lock is
 * taken, so a job a worker claims at this very moment still gets cancelRequested instead of slipping through.
 * The subtree's rows are locked first, in id order, as every statement that writes several job rows takes them
 * (attempts.ts LOCK_FENCED): an UPDATE over a hash join locked them in the table's physical order and could wait in a
 * cycle with a batch of finishes.
 */
export async function cancel(db: Db, jobIds: string[], reason: string): Promise<Job[]> {
  const ids = validIds(jobIds);
  if (ids.length === 0) return [];
  const S = db.s;
  const rows = await db.query(
    `WITH RECURSIVE tree AS (
       SELECT id FROM ${S}.jobs WHERE id = ANY($1::bigint[])
       UNION
       SELECT j.id FROM ${S}.jobs j JOIN tree t ON j.parent_id = t.id WHERE j.parent_id IS NOT NULL
     ),
     c AS (SELECT ${S}.now_ms() AS now),
     lk AS MATERIALIZED (SELECT id FROM ${S}.jobs WHERE id IN (SELECT id FROM tree) ORDER BY id FOR UPDATE),
     upd AS (
       UPDATE ${S}.jobs j SET
         state = CASE WHEN j.state = 'queued' THEN 'cancelled' ELSE j.state END,
         error = CASE WHEN j.state = 'queued' THEN $2 ELSE j.error END,
         finished_at = CASE WHEN j.state = 'queued' THEN c.now ELSE j.finished_at END,
         cancel_requested = CASE WHEN j.state = 'running' THEN true ELSE j.cancel_requested END,
         cancel_reason = $3,
         updated_at = c.now
       FROM c
       WHERE j.id IN (SELECT id FROM lk) AND (j.state = 'queued' OR (j.state = 'running' AND NOT j.cancel_requested))
       RETURNING ${jobColumns('j')}
     )
     SELECT ${jobColumns()} FROM upd WHERE id = ANY($1::bigint[])
     UNION ALL
     SELECT ${jobColumns()} FROM ${S}.jobs WHERE id = ANY($1::bigint[]) AND id NOT IN (SELECT id FROM upd)`,
    [ids, JSON.stringify(cancelledError(reason)), reason],
  );
  return orderByIds(ids, rows.map(toJob));
}

/** A failed or cancelled job back to the queue with a fresh attempt budget (and a fresh deadline, if it had one). */
export async function retry(db: Db, jobId: string): Promise<Job> {
  if (validIds([jobId]).length === 0) throw new JobNotFoundError(jobId);
  const S = db.s;
  const rows = await db.query<{ updated: boolean }>(
    `WITH c AS (SELECT ${S}.now_ms() AS now),
     upd AS (
       UPDATE ${S}.jobs j SET
         state = 'queued', charged_attempts = 0, held_recoveries = 0, run_at = c.now, result = NULL, error = NULL,
         finished_at = NULL,
         cancel_requested = false, cancel_reason = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = c.now,
         deadline_at = c.now + j.deadline_ms
       FROM c
       WHERE j.id = $1::bigint AND j.state IN ('failed', 'cancelled')
       RETURNING ${jobColumns('j')}
     )
     SELECT true AS updated, ${jobColumns()} FROM upd
     UNION ALL
     SELECT false, ${jobColumns()} FROM ${S}.jobs WHERE id = $1::bigint AND NOT EXISTS (SELECT 1 FROM upd)`,
    [jobId],
  );
  const row = rows[0];
  if (!row) throw new JobNotFoundError(jobId);
  const job = toJob(row);
  if (!row.updated) {
    throw new UsageError(
      'VIGIL_INVALID_STATE',
      `job ${jobId} is ${job.state}: only failed or cancelled jobs can be retried${job.state === 'succeeded' ? ' (submit it again instead)' : ''}`,
    );
  }
  return job;
}
