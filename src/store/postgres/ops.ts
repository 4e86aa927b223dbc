import type { ErrorKind, JobState, StackFrame } from '../../types.js';
import type { FreezeRecord, NewFreeze, OpsSnapshot } from '../contract.js';
import type { Db, Row } from './db.js';
import { workerFromRow } from './workers.js';

/** Outcomes that mean an attempt hung or was killed from outside, as doctor and the metrics count them. */
const HANG_KINDS = ['timeout', 'stalled', 'oom', 'crashed'];

/** One REPEATABLE READ transaction: every list in the snapshot sees the same instant, on the store's clock. */
export async function opsSnapshot(db: Db, sinceMs: number, limit: number): Promise<OpsSnapshot> {
  const S = db.s;
  return db.tx(async (q) => {
    await q('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [{ now, v }] = (await q(`SELECT ${S}.now_ms() AS now, (SELECT max(version) FROM ${S}.schema_migrations) AS v`)) as [Row];
    const at = Number(now);
    const workers = await q(`SELECT * FROM ${S}.workers ORDER BY started_at, worker_id`);
    const queues = await q(
      `SELECT task,
              count(*) FILTER (WHERE state = 'queued') AS queued,
              count(*) FILTER (WHERE state = 'queued' AND run_at <= $1) AS runnable,
              count(*) FILTER (WHERE state = 'running') AS running,
              min(run_at) FILTER (WHERE state = 'queued' AND run_at <= $1) AS oldest
       FROM ${S}.jobs WHERE state IN ('queued', 'running') GROUP BY task ORDER BY task`,
      [at],
    );
    const expired = await q(
      `SELECT id, task, lease_owner, lease_expires_at FROM ${S}.jobs
       WHERE state = 'running' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2`,
      [at, limit],
    );
    const late = await q(
      `SELECT id, task, state, deadline_at FROM ${S}.jobs
       WHERE state IN ('queued', 'running') AND deadline_at IS NOT NULL AND deadline_at < $1 ORDER BY deadline_at LIMIT $2`,
      [at, limit],
    );
    const parents = await q(
      `SELECT p.id, p.task, p.last_heartbeat_at, count(c.id) AS children, max(c.finished_at) AS last_finished
       FROM ${S}.jobs p JOIN ${S}.jobs c ON c.parent_id = p.id
       WHERE p.state = 'running'
       GROUP BY p.id, p.task, p.last_heartbeat_at
       HAVING count(*) FILTER (WHERE c.state IN ('queued', 'running')) = 0
       ORDER BY last_finished LIMIT $1`,
      [limit],
    );
    const hangs = await q(
      `SELECT j.task, a.outcome AS kind, count(*) AS n, max(a.finished_at) AS last_at
       FROM ${S}.attempts a JOIN ${S}.jobs j ON j.id = a.job_id
       WHERE a.finished_at >= $1 AND a.outcome IS NOT NULL AND a.outcome <> 'succeeded' AND a.outcome = ANY($2::text[])
       GROUP BY j.task, a.outcome ORDER BY n DESC LIMIT $3`,
      [sinceMs, HANG_KINDS, limit],
    );
    const freezes = await q(`SELECT * FROM ${S}.supervisor_freezes WHERE detected_at >= $1 ORDER BY detected_at DESC LIMIT $2`, [sinceMs, limit]);
    return {
      now: at,
      schemaVersion: Number(v ?? 0),
      workers: workers.map(workerFromRow),
      queues: queues.map((r) => ({
        task: String(r.task),
        queued: Number(r.queued),
        runnable: Number(r.runnable),
        running: Number(r.running),
        oldestRunnableAt: r.oldest === null ? null : Number(r.oldest),
      })),
      expiredLeases: expired.map((r) => ({
        id: String(r.id),
        task: String(r.task),
        leaseOwner: r.lease_owner === null ? null : String(r.lease_owner),
        leaseExpiresAt: Number(r.lease_expires_at),
      })),
      pastDeadline: late.map((r) => ({ id: String(r.id), task: String(r.task), state: r.state as JobState, deadlineAt: Number(r.deadline_at) })),
      settledParents: parents.map((r) => ({ id: String(r.id), task: String(r.task), children: Number(r.children), lastChildFinishedAt: Number(r.last_finished), lastHeartbeatAt: r.last_heartbeat_at === null ? null : Number(r.last_heartbeat_at) })),
      hangs: hangs.map((r) => ({ task: String(r.task), kind: r.kind as ErrorKind, count: Number(r.n), lastAt: Number(r.last_at) })),
      freezes: freezes.map(freezeFromRow),
    };
  });
}

function freezeFromRow(r: Row): FreezeRecord {
  return {
    id: String(r.id),
    workerId: String(r.worker_id),
    hostname: String(r.hostname),
    pid: Number(r.pid),
    detectedAt: Number(r.detected_at),
    blockedMs: Number(r.blocked_ms),
    stack: JSON.parse(String(r.stack)) as StackFrame[],
    notes: JSON.parse(String(r.notes)) as string[],
    action: r.action === 'restart' ? 'restart' : 'logged',
  };
}

export async function recordFreeze(db: Db, f: NewFreeze): Promise<void> {
  await db.query(
    `INSERT INTO ${db.s}.supervisor_freezes (worker_id, hostname, pid, detected_at, blocked_ms, stack, notes, action)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [f.workerId, f.hostname, f.pid, Math.round(f.detectedAt), Math.round(f.blockedMs), JSON.stringify(f.stack), JSON.stringify(f.notes), f.action],
  );
}
