import type { ClaimRequest, Claimed, Fence, SnapshotRequest, StoreEvent } from '../contract.js';
import { expiredInQueue } from '../next-state.js';
import { fenceKey, startCount, SWEEP_BATCH } from '../requests.js';
import { rowToJob, type JobRow } from '../rows.js';
import type { Db } from './connection.js';
import { finishedEvent, type OpResult } from './jobs.js';
import { FENCED, fenceArgs, stmt } from './statements.js';
import { flowGate } from './rate-limit.js';

/**
 * One batch claim, inside one BEGIN IMMEDIATE transaction (so two processes never take the same job): first the
 * queued jobs of these tasks whose deadline passed are failed with kind `deadline` (at most SWEEP_BATCH, oldest
 * deadline first, so a backlog never makes one claim long; the next claim takes the rest), then the best candidates of
 * each task (up to its limit) are merged in claim order and taken up to `limit`.
 */
export function claim(db: Db, req: ClaimRequest, now: number): OpResult<Claimed[]> {
  const limit = Math.floor(req.limit);
  const tasks = Object.entries(req.tasks)
    .map(([task, n]) => [task, Math.min(limit, Math.floor(n))] as const)
    .filter(([, n]) => n > 0);
  if (limit <= 0 || tasks.length === 0) return { value: [], events: [] };
  const events: StoreEvent[] = [];

  // Nearly always nothing has expired: one probe of the (usually empty) deadline index answers that for ~1/5 of the
  // full sweep's cost (whose json_each and JSON text were paid on every claim).
  const anyExpired = stmt(db, `SELECT 1 FROM jobs INDEXED BY jobs_deadline WHERE state = 'queued' AND deadline_at IS NOT NULL AND deadline_at <= ? LIMIT 1`);
  const expired = !anyExpired.get(now) ? [] : (stmt(
    db,
    // INDEXED BY: without it the planner prefers jobs_claim and reads every queued job of the task on every claim.
    `SELECT id, deadline_at FROM jobs INDEXED BY jobs_deadline WHERE state = 'queued' AND deadline_at IS NOT NULL AND deadline_at <= ?
       AND task IN (SELECT value FROM json_each(?)) ORDER BY deadline_at LIMIT ?`,
  ).all(now, JSON.stringify(tasks.map(([t]) => t)), SWEEP_BATCH) as Array<{ id: number; deadline_at: number }>);
  const fail = stmt(
    db,
    `UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ? WHERE id = ? AND state = 'queued' RETURNING *`,
  );
  for (const e of expired) {
    const row = fail.get(JSON.stringify(expiredInQueue(e.deadline_at, now).error), now, now, e.id) as JobRow | undefined;
    if (row) events.push(finishedEvent(row));
  }

  const found: Array<{ id: number; task: string; priority: number; run_at: number }> = [];
  if (req.rootJobId === undefined) {
    const candidates = stmt(
      db,
      // Expired deadlines beyond this claim's sweep are skipped, never run: a later claim fails them.
      // INDEXED BY: without statistics the planner picks jobs_run_at and reads every queued job of EVERY task
      // (100,000 queued jobs of another task made each claim take 20-600 ms of the supervisor's loop).
      `SELECT id, task, priority, run_at FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task = @task AND run_at <= @now
         AND (deadline_at IS NULL OR deadline_at > @now)
         ORDER BY priority DESC, run_at, id LIMIT @n`,
    );
    for (const [task, n] of tasks) found.push(...(candidates.all({ task, now, n }) as typeof found));
  } else {
    // `vigil run`: only the root job and its descendants.
    const inTree = stmt(
      db,
      `WITH RECURSIVE tree(id) AS (SELECT @root UNION ALL SELECT j.id FROM jobs j JOIN tree ON j.parent_id = tree.id)
       SELECT id, task, priority, run_at FROM jobs WHERE id IN (SELECT id FROM tree) AND state = 'queued' AND task = @task
         AND run_at <= @now AND (deadline_at IS NULL OR deadline_at > @now)
         ORDER BY priority DESC, run_at, id LIMIT @n`,
    );
    const root = Number(req.rootJobId);
    for (const [task, n] of tasks) found.push(...(inTree.all({ root, task, now, n }) as typeof found));
  }
  found.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.id - b.id);

  const take = stmt(
    db,
    `UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = @workerId, lease_expires_at = @expires,
       started_at = @now, updated_at = @now, finished_at = NULL, last_heartbeat_at = NULL, progress = NULL, wait_reason = NULL,
       held = @held
     WHERE id = @id AND state = 'queued' RETURNING *`,
  );
  const attempt = stmt(db, 'INSERT INTO attempts (job_id, attempt, worker_id, started_at, charged) VALUES (?, ?, ?, ?, 1)');
  const claimed: Claimed[] = [];
  const start = startCount(req);
  // Rate limits and task pauses (RetryAfterError) are checked and recorded in this same transaction.
  const gate = flowGate(db, req, now);
  for (const c of found) {
    if (claimed.length >= limit) break;
    if (gate && !gate.admit(c.id, c.task)) continue;
    // The first `start` jobs of the claim get a slot at once; the rest wait in the worker's prefetch buffer.
    const held = claimed.length >= start ? 1 : 0;
    const row = take.get({ id: c.id, workerId: req.workerId, expires: now + req.leaseMs, now, held }) as JobRow;
    attempt.run(row.id, row.attempts, req.workerId, now);
    const job = rowToJob(row);
    claimed.push({ job, fence: { jobId: job.id, attempt: job.attempts, workerId: req.workerId } });
  }
  return { value: claimed, events };
}

export function renewLeases(
  db: Db,
  workerId: string,
  fences: Fence[],
  leaseMs: number,
  now: number,
  held: Fence[] = [],
): { lost: Fence[]; cancelRequested: Fence[]; snapshotRequested: SnapshotRequest[] } {
  const renew = stmt(db, `UPDATE jobs SET lease_expires_at = @expires, held = @held WHERE ${FENCED} RETURNING cancel_requested, snapshot_requested_at`);
  const heldKeys = new Set(held.map(fenceKey));
  const lost: Fence[] = [];
  const cancelRequested: Fence[] = [];
  const snapshotRequested: SnapshotRequest[] = [];
  for (const f of fences) {
    const row =
      f.workerId === workerId
        ? (renew.get({ ...fenceArgs(f, now), expires: now + leaseMs, held: heldKeys.has(fenceKey(f)) ? 1 : 0 }) as
            | { cancel_requested: number; snapshot_requested_at: number | null }
            | undefined)
        : undefined;
    if (!row) lost.push(f);
    else if (row.cancel_requested) cancelRequested.push(f);
    else if (row.snapshot_requested_at !== null) snapshotRequested.push({ fence: f, requestedAt: row.snapshot_requested_at });
  }
  return { lost, cancelRequested, snapshotRequested };
}
