import type { AttemptSnapshot, JobState } from '../../types.js';
import type { Fence } from '../contract.js';
import { isJobId } from '../rows.js';
import type { Db } from './connection.js';
import { FENCED, fenceArgs, stmt } from './statements.js';

/** Store.requestSnapshot: stamps a running job; reports the state of any other. */
export function requestSnapshot(db: Db, jobId: string, now: number): { state: JobState; requestedAt: number | null } | null {
  if (!isJobId(jobId)) return null;
  const row = stmt(db, 'SELECT state FROM jobs WHERE id = ?').get(Number(jobId)) as { state: JobState } | undefined;
  if (!row) return null;
  if (row.state !== 'running') return { state: row.state, requestedAt: null };
  stmt(db, 'UPDATE jobs SET snapshot_requested_at = ? WHERE id = ?').run(now, Number(jobId));
  return { state: row.state, requestedAt: now };
}

/** Store.saveSnapshot: fenced like every write on behalf of an attempt. */
export function saveSnapshot(db: Db, fence: Fence, snapshot: AttemptSnapshot, now: number): boolean {
  const live = stmt(db, `SELECT id FROM jobs WHERE ${FENCED}`).get(fenceArgs(fence, now));
  if (!live) return false;
  stmt(db, 'UPDATE attempts SET snapshot = ? WHERE job_id = ? AND attempt = ? AND finished_at IS NULL').run(
    JSON.stringify(snapshot),
    Number(fence.jobId),
    fence.attempt,
  );
  stmt(db, 'UPDATE jobs SET snapshot_requested_at = NULL WHERE id = ? AND snapshot_requested_at <= ?').run(Number(fence.jobId), snapshot.requestedAt);
  return true;
}
