import type { ClaimRequest, Claimed } from '../contract.js';
import type { Db } from './db.js';
import { jobColumns, toJob } from './rows.js';
import { claimRateLimited } from './rate-limit.js';

/** How many queued jobs past their deadline one claim fails, so a large backlog never makes one claim slow. */
const DEADLINE_BATCH = 500;

/**
 * One statement: fails queued jobs past their deadline, then takes up to `limit` runnable jobs with
 * `FOR UPDATE SKIP LOCKED` (concurrent workers skip each other's rows instead of queueing behind them), a per-task
 * sub-select so each task's cap is honoured without starving the others, and writes the attempt rows. Lease
 * expiry is computed from the database clock.
 */
export async function claim(db: Db, req: ClaimRequest): Promise<Claimed[]> {
  const names = Object.keys(req.tasks).filter((t) => (req.tasks[t] ?? 0) > 0);
  const limit = Math.floor(req.limit);
  if (names.length === 0 || limit <= 0) return [];
  // Rate-limited tasks are claimed in their own transaction (claimRateLimited); here their cap is 0 so this
  // statement still fails their queued jobs past deadline but never takes one.
  const limited = names.filter((t) => req.rateLimits?.[t] !== undefined);
  const caps = names.map((t) => (req.rateLimits?.[t] ? 0 : Math.min(limit, Math.floor(req.tasks[t]!))));
  const taken = await claimFree(db, req, names, caps, limit);
  const rest = limit - taken.length;
  if (limited.length === 0 || rest <= 0) return taken;
  return [...taken, ...(await claimRateLimited(db, req, limited.map((t) => [t, Math.floor(req.tasks[t]!)]), rest))];
}

async function claimFree(db: Db, req: ClaimRequest, names: string[], caps: number[], limit: number): Promise<Claimed[]> {
  const S = db.s;
  const rows = await db.query(
    `WITH RECURSIVE c AS MATERIALIZED (SELECT ${S}.now_ms() AS now),
     -- vigil run (rootJobId): only the root job and its descendants; empty when no root is given.
     tree(id) AS (SELECT $6::bigint WHERE $6::bigint IS NOT NULL
                  UNION ALL SELECT j.id FROM ${S}.jobs j JOIN tree ON j.parent_id = tree.id),
     req AS (SELECT * FROM unnest($1::text[], $2::int[]) AS r(task, cap)),
     expired AS (
       UPDATE ${S}.jobs j
          SET state = 'failed', error = ${S}.deadline_error(j.deadline_at, c.now, NULL, NULL, NULL),
              finished_at = c.now, updated_at = c.now
         FROM c
        WHERE j.id IN (SELECT id FROM ${S}.jobs
                        WHERE state = 'queued' AND deadline_at IS NOT NULL AND deadline_at <= (SELECT now FROM c)
                          AND task = ANY($1::text[])
                        ORDER BY deadline_at LIMIT ${DEADLINE_BATCH}
                        FOR UPDATE SKIP LOCKED)
        RETURNING j.id
     ),
     -- Jobs of a task paused by RetryAfterError that were enqueued since the pause: show why they wait, and move
     -- them to the pause's end so idle workers sleep (the older ones were moved by pauseTask itself).
     paused AS (
       UPDATE ${S}.jobs j SET run_at = p.until, wait_reason = 'task ' || p.task || ' is paused: ' || p.reason
         FROM ${S}.task_pauses p
        WHERE p.until > (SELECT now FROM c) AND p.task = ANY($1::text[]) AND j.task = p.task AND j.state = 'queued'
          AND j.run_at < p.until
     ),
     cand AS (
       SELECT x.id, x.priority, x.run_at FROM req CROSS JOIN LATERAL (
         SELECT id, priority, run_at FROM ${S}.jobs
          WHERE state = 'queued' AND task = req.task AND run_at <= (SELECT now FROM c)
            AND (deadline_at IS NULL OR deadline_at > (SELECT now FROM c))
            AND ($6::bigint IS NULL OR id IN (SELECT id FROM tree))
            AND NOT EXISTS (SELECT 1 FROM ${S}.task_pauses p WHERE p.task = req.task AND p.until > (SELECT now FROM c))
          ORDER BY priority DESC, run_at, id
          LIMIT LEAST(req.cap, $3::int)
          FOR UPDATE SKIP LOCKED
       ) x
       ORDER BY x.priority DESC, x.run_at, x.id
       LIMIT $3::int
     ),
     claimed AS (
       UPDATE ${S}.jobs j
          SET state = 'running', attempts = j.attempts + 1, lease_owner = $4, lease_expires_at = c.now + $5::bigint,
              started_at = c.now, finished_at = NULL, updated_at = c.now, last_heartbeat_at = NULL, progress = NULL,
              wait_reason = NULL
         FROM cand, c
        WHERE j.id = cand.id
       RETURNING ${jobColumns('j')}
     ),
     att AS (
       INSERT INTO ${S}.attempts (job_id, attempt, worker_id, started_at, charged)
       SELECT id, attempts, lease_owner, started_at, true FROM claimed
     )
     SELECT * FROM claimed ORDER BY priority DESC, run_at, id`,
    [names, caps, limit, req.workerId, Math.max(1, Math.round(req.leaseMs)), req.rootJobId ?? null],
  );
  return rows.map((r) => {
    const job = toJob(r);
    return { job, fence: { jobId: job.id, attempt: job.attempts, workerId: req.workerId } };
  });
}

/** Earliest runAt among queued jobs of these tasks, so an idle worker sleeps exactly until then. */
export async function nextRunAt(db: Db, tasks: string[]): Promise<number | null> {
  if (tasks.length === 0) return null;
  // A paused task's jobs are not runnable before the pause ends (RetryAfterError with pauseTask).
  const rows = await db.read<{ t: string | null }>(
    `WITH p AS (SELECT task, until FROM ${db.s}.task_pauses WHERE until > ${db.s}.now_ms() AND task = ANY($1::text[]))
     SELECT least((SELECT min(run_at) FROM ${db.s}.jobs WHERE state = 'queued' AND task = ANY($1::text[]) AND task NOT IN (SELECT task FROM p)),
                  (SELECT min(until) FROM p)) AS t`,
    [tasks],
  );
  const t = rows[0]?.t;
  return t === null || t === undefined ? null : Number(t);
}
