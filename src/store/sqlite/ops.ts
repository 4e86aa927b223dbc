import type { ErrorKind, JobState, StackFrame } from '../../types.js';
import type { FreezeRecord, NewFreeze, OpsSnapshot } from '../contract.js';
import { parseJson } from '../rows.js';
import type { Db } from './connection.js';
import { listWorkers } from './workers.js';
import { stmt } from './statements.js';

/** Outcomes that mean an attempt hung or was killed from outside, as doctor and the metrics count them. */
export const HANG_KINDS = ['timeout', 'stalled', 'oom', 'crashed'] as const;

/** One read transaction: every list in the snapshot sees the same instant. */
export function opsSnapshot(db: Db, now: number, sinceMs: number, limit: number): OpsSnapshot {
  return db.transaction((): OpsSnapshot => {
    const version = stmt(db, 'SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
    // Queued jobs from the queue-only index (covering, in task order); running ones from jobs_lease (few: one per
    // busy slot). One scan over both states walked every queued row's table entry once the indexes became partial.
    const queued = stmt(
      db,
      `SELECT task, count(*) AS queued, sum(run_at <= @now) AS runnable, min(CASE WHEN run_at <= @now THEN run_at END) AS oldest
       FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' GROUP BY task`,
    ).all({ now }) as Array<{ task: string; queued: number; runnable: number; oldest: number | null }>;
    const running = stmt(db, `SELECT task, count(*) AS running FROM jobs INDEXED BY jobs_lease WHERE state = 'running' GROUP BY task`).all() as Array<{
      task: string;
      running: number;
    }>;
    const byTask = new Map<string, { task: string; queued: number; runnable: number; running: number; oldest: number | null }>();
    for (const q of queued) byTask.set(q.task, { ...q, running: 0 });
    for (const r of running) {
      const q = byTask.get(r.task);
      if (q) q.running = r.running;
      else byTask.set(r.task, { task: r.task, queued: 0, runnable: 0, running: r.running, oldest: null });
    }
    const queues = [...byTask.values()].sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : 0));
    const expired = stmt(
      db,
      `SELECT id, task, lease_owner, lease_expires_at FROM jobs
       WHERE state = 'running' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?`,
    ).all(now, limit) as Array<{ id: number; task: string; lease_owner: string | null; lease_expires_at: number }>;
    const late = stmt(
      db,
      // Queued ones from jobs_deadline (queued with a deadline only), running ones from jobs_lease (exactly the running
      // jobs): jobs_state_id no longer holds running jobs (migration 010), and a scan of it read every queued row.
      `SELECT id, task, state, deadline_at FROM jobs INDEXED BY jobs_deadline WHERE state = 'queued' AND deadline_at IS NOT NULL AND deadline_at < @now
       UNION ALL
       SELECT id, task, state, deadline_at FROM jobs INDEXED BY jobs_lease WHERE state = 'running' AND deadline_at IS NOT NULL AND deadline_at < @now
       ORDER BY deadline_at LIMIT @limit`,
    ).all({ now, limit }) as Array<{ id: number; task: string; state: JobState; deadline_at: number }>;
    // p through jobs_lease: the running jobs, few (jobs_state_id leaves them out, migration 010).
    const parents = stmt(
      db,
      `SELECT p.id, p.task, p.last_heartbeat_at, count(c.id) AS children, max(c.finished_at) AS last_finished
       FROM jobs p INDEXED BY jobs_lease JOIN jobs c ON c.parent_id = p.id
       WHERE p.state = 'running'
       GROUP BY p.id, p.task, p.last_heartbeat_at
       HAVING sum(c.state IN ('queued', 'running')) = 0
       ORDER BY last_finished LIMIT ?`,
    ).all(limit) as Array<{ id: number; task: string; last_heartbeat_at: number | null; children: number; last_finished: number }>;
    const hangs = stmt(
      db,
      `SELECT j.task, a.outcome AS kind, count(*) AS n, max(a.finished_at) AS last_at
       FROM attempts a JOIN jobs j ON j.id = a.job_id
       WHERE a.finished_at >= ? AND a.outcome IS NOT NULL AND a.outcome <> 'succeeded'
         AND a.outcome IN (${HANG_KINDS.map(() => '?').join(', ')})
       GROUP BY j.task, a.outcome ORDER BY n DESC LIMIT ?`,
    ).all(sinceMs, ...HANG_KINDS, limit) as Array<{ task: string; kind: ErrorKind; n: number; last_at: number }>;
    const freezes = stmt(db, 'SELECT * FROM supervisor_freezes WHERE detected_at >= ? ORDER BY detected_at DESC LIMIT ?').all(sinceMs, limit) as FreezeRow[];
    return {
      now,
      schemaVersion: version.v ?? 0,
      workers: listWorkers(db),
      queues: queues.map((q) => ({ task: q.task, queued: q.queued, runnable: q.runnable, running: q.running, oldestRunnableAt: q.oldest })),
      expiredLeases: expired.map((r) => ({ id: String(r.id), task: r.task, leaseOwner: r.lease_owner, leaseExpiresAt: r.lease_expires_at })),
      pastDeadline: late.map((r) => ({ id: String(r.id), task: r.task, state: r.state, deadlineAt: r.deadline_at })),
      settledParents: parents.map((r) => ({ id: String(r.id), task: r.task, children: r.children, lastChildFinishedAt: r.last_finished, lastHeartbeatAt: r.last_heartbeat_at })),
      hangs: hangs.map((r) => ({ task: r.task, kind: r.kind, count: r.n, lastAt: r.last_at })),
      freezes: freezes.map(freezeFromRow),
    };
  })();
}

interface FreezeRow {
  id: number;
  worker_id: string;
  hostname: string;
  pid: number;
  detected_at: number;
  blocked_ms: number;
  stack: string;
  notes: string;
  action: 'logged' | 'restart';
}

function freezeFromRow(r: FreezeRow): FreezeRecord {
  return {
    id: String(r.id),
    workerId: r.worker_id,
    hostname: r.hostname,
    pid: r.pid,
    detectedAt: r.detected_at,
    blockedMs: r.blocked_ms,
    stack: parseJson<StackFrame[]>(r.stack) ?? [],
    notes: parseJson<string[]>(r.notes) ?? [],
    action: r.action,
  };
}

export function recordFreeze(db: Db, f: NewFreeze): void {
  stmt(
    db,
    `INSERT INTO supervisor_freezes (worker_id, hostname, pid, detected_at, blocked_ms, stack, notes, action)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(f.workerId, f.hostname, f.pid, Math.round(f.detectedAt), Math.round(f.blockedMs), JSON.stringify(f.stack), JSON.stringify(f.notes), f.action);
}
