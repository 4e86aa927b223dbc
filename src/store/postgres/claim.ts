import type { ClaimRequest, Claimed } from '../contract.js';
import { expiredInQueue } from '../next-state.js';
import { startCount, SWEEP_BATCH } from '../requests.js';
import type { Db, Row } from './db.js';
import { JOB_COLUMNS, jobColumns, toJob } from './rows.js';
import { claimRateLimited } from './rate-limit.js';

/**
 * One statement takes up to `limit` runnable jobs with `FOR UPDATE SKIP LOCKED` (concurrent workers skip each
 * other's rows instead of queueing behind them), a per-task sub-select so each task's cap is honoured without
 * starving the others, and writes the attempt rows; lease expiry is computed from the database clock. Queued jobs
 * whose deadline passed are never taken: the same statement lists them (at most SWEEP_BATCH), and only when there
 * are some does a second statement fail them with the error next-state.ts builds (the common claim stays one
 * round trip).
 */
export async function claim(db: Db, req: ClaimRequest): Promise<Claimed[]> {
  const fast = fastClaim(req);
  if (fast === 'nothing') return [];
  if (fast !== null) return claimedFrom(db, req, await db.query(CLAIM_JOBS(db.s), fastParams(fast), true));
  return claimGeneral(db, req);
}

/** What the claim_jobs function (migration 010) takes. */
export interface FastClaim {
  names: string[];
  caps: number[];
  limit: number;
  workerId: string;
  leaseMs: number;
  /** The first `start` claimed rows start at once; the rest are held (ClaimRequest.start). */
  start: number;
}

/**
 * The request as claim_jobs arguments, when the function can serve it alone: no `vigil run` root (its recursive
 * tree) and no rate-limited task (claimed in their own transaction). 'nothing' when there is nothing to claim.
 */
export function fastClaim(req: ClaimRequest): FastClaim | 'nothing' | null {
  const names = Object.keys(req.tasks).filter((t) => (req.tasks[t] ?? 0) > 0);
  const limit = Math.floor(req.limit);
  if (names.length === 0 || limit <= 0) return 'nothing';
  if (req.rootJobId !== undefined && req.rootJobId !== null) return null;
  if (names.some((t) => req.rateLimits?.[t] !== undefined)) return null;
  const caps = names.map((t) => Math.min(limit, Math.floor(req.tasks[t]!)));
  return { names, caps, limit, workerId: req.workerId, leaseMs: Math.max(1, Math.round(req.leaseMs)), start: startCount(req) };
}

export function fastParams(f: FastClaim): unknown[] {
  return [f.names, f.caps, f.limit, f.workerId, f.leaseMs, SWEEP_BATCH, f.start];
}


export const CLAIM_JOBS = (S: string): string =>
  `SELECT ${JOB_COLUMNS.map((col) => `(c.job).${col}`).join(', ')}, c.expired, c.claim_now
     FROM ${S}.claim_jobs($1::text[], $2::int[], $3::int, $4::text, $5::bigint, $6::int, $7::int) c`;

/** Claims under a root job, or with rate-limited tasks: the general statement, then the rate-limited claim. */
async function claimGeneral(db: Db, req: ClaimRequest): Promise<Claimed[]> {
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
  const held = taken.length >= startCount(req);
  return [...taken, ...(await claimRateLimited(db, req, limited.map((t) => [t, Math.floor(req.tasks[t]!)]), rest, held))];
}

async function claimFree(db: Db, req: ClaimRequest, names: string[], caps: number[], limit: number): Promise<Claimed[]> {
  const S = db.s;
  const lease = Math.max(1, Math.round(req.leaseMs));
  const rows = await db.query(
    `WITH RECURSIVE c AS MATERIALIZED (SELECT ${S}.now_ms() AS now),
     -- vigil run (rootJobId): only the root job and its descendants; empty when no root is given.
     tree(id) AS (SELECT $6::bigint WHERE $6::bigint IS NOT NULL
                  UNION ALL SELECT j.id FROM ${S}.jobs j JOIN tree ON j.parent_id = tree.id),
     req AS (SELECT * FROM unnest($1::text[], $2::int[]) AS r(task, cap)),
     -- Walks jobs_deadlines only: "IS TRUE" keeps the task test out of any index condition. Offered task = ANY as
     -- an index condition, the planner (which can not see how few queued jobs have a deadline behind "now") took
     -- jobs_queued_run_at and filtered the task's whole queue on every claim (bench/NOTES.md, pgperf).
     expired AS (
       SELECT id, deadline_at FROM ${S}.jobs
        WHERE state = 'queued' AND deadline_at IS NOT NULL AND deadline_at <= (SELECT now FROM c)
          AND (task = ANY($1::text[])) IS TRUE
        ORDER BY deadline_at LIMIT ${SWEEP_BATCH}
     ),
     -- Jobs of a task paused by RetryAfterError that were enqueued since the pause: show why they wait, and move
     -- them to the pause's end so idle workers sleep (the older ones were moved by pauseTask itself).
     -- The EXISTS is a one-time gate: with no pause in force (the usual case) the jobs table is never touched here,
     -- whatever join order the planner picks for the UPDATE.
     paused AS (
       UPDATE ${S}.jobs j SET run_at = p.until, wait_reason = 'task ' || p.task || ' is paused: ' || p.reason
         FROM ${S}.task_pauses p
        WHERE p.until > (SELECT now FROM c) AND p.task = ANY($1::text[]) AND j.task = p.task AND j.state = 'queued'
          AND j.run_at < p.until
          AND EXISTS (SELECT 1 FROM ${S}.task_pauses g WHERE g.until > (SELECT now FROM c) AND g.task = ANY($1::text[]))
     ),
     cand AS (
       SELECT x.id, x.priority, x.run_at, row_number() OVER (ORDER BY x.priority DESC, x.run_at, x.id) AS rank
         FROM req CROSS JOIN LATERAL (
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
              wait_reason = NULL, held = cand.rank > $7::int
         FROM cand, c
        WHERE j.id = cand.id
       RETURNING ${jobColumns('j')}
     ),
     att AS (
       INSERT INTO ${S}.attempts (job_id, attempt, worker_id, started_at, charged)
       SELECT id, attempts, lease_owner, started_at, true FROM claimed
     )
     -- One row even when nothing was claimed, so the expired list always comes back.
     SELECT x.*, e.expired, (SELECT now FROM c) AS claim_now
       FROM (SELECT json_agg(json_build_array(id::text, deadline_at)) AS expired FROM expired) e
       LEFT JOIN claimed x ON true
      ORDER BY x.priority DESC, x.run_at, x.id`,
    [names, caps, limit, req.workerId, lease, req.rootJobId ?? null, startCount(req)],
    // Not a prepared statement: see createDb (a generic plan of this one walked the whole queue in "paused").
  );
  return claimedFrom(db, req, rows);
}

/** Claimed jobs from the rows of either claim; fails the queued jobs past deadline that the claim listed. */
export async function claimedFrom(db: Db, req: ClaimRequest, rows: Row[]): Promise<Claimed[]> {
  const expired = (rows[0]?.expired ?? null) as Array<[string, number | string]> | null;
  if (expired && expired.length > 0) {
    // The claim is committed: its jobs must reach the worker even if this fails. Those jobs are skipped by every
    // claim until failed, so the next claim's sweep simply does it.
    await failExpired(db, expired, Number(rows[0]!.claim_now)).catch(() => undefined);
  }
  return rows
    .filter((r) => r.id !== null)
    .map((r) => {
      const job = toJob(r);
      return { job, fence: { jobId: job.id, attempt: job.attempts, workerId: req.workerId } };
    });
}

/**
 * Fails queued jobs whose deadline passed. Guarded by what the claim saw (still queued, same deadline): a job
 * another worker failed meanwhile, or that retry() gave a fresh deadline, is left alone.
 */
async function failExpired(db: Db, expired: Array<[string, number | string]>, now: number): Promise<void> {
  await db.query<Row>(
    `UPDATE ${db.s}.jobs j SET state = 'failed', error = d.error, finished_at = $4::bigint, updated_at = $4::bigint
       FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS d(id, deadline_at, error)
      WHERE j.id = d.id AND j.state = 'queued' AND j.deadline_at = d.deadline_at`,
    [
      expired.map(([id]) => id),
      expired.map(([, at]) => Number(at)),
      expired.map(([, at]) => JSON.stringify(expiredInQueue(Number(at), now).error)),
      now,
    ],
  );
}

/** The query, exported for the test that checks its plan. */
export const NEXT_RUN_AT = (S: string): string =>
  // A paused task's jobs are not runnable before the pause ends (RetryAfterError with pauseTask): its pause's end
  // counts instead of its queue.
  `WITH p AS (SELECT task, until FROM ${S}.task_pauses WHERE until > ${S}.now_ms() AND task = ANY($1::text[]))
   SELECT least(
     (SELECT min(f.run_at) FROM unnest($1::text[]) AS n(task)
        CROSS JOIN LATERAL (
          WITH RECURSIVE pr(p) AS (
            (SELECT priority FROM ${S}.jobs WHERE state = 'queued' AND task = n.task ORDER BY priority DESC LIMIT 1)
            UNION ALL
            SELECT (SELECT priority FROM ${S}.jobs WHERE state = 'queued' AND task = n.task AND priority < pr.p
                     ORDER BY priority DESC LIMIT 1)
              FROM pr WHERE pr.p IS NOT NULL)
          SELECT min((SELECT run_at FROM ${S}.jobs WHERE state = 'queued' AND task = n.task AND priority = pr.p
                       ORDER BY run_at LIMIT 1)) AS run_at
            FROM pr WHERE pr.p IS NOT NULL) f
       WHERE n.task NOT IN (SELECT task FROM p)),
     (SELECT min(until) FROM p)) AS t`;

/**
 * Earliest runAt among queued jobs of these tasks, so an idle worker sleeps exactly until then: from jobs_claim
 * (task, priority DESC, run_at, id), a skip over each task's distinct priorities (usually one) and one probe each,
 * never a scan of the queue. A (task, run_at) index answered it in one probe per task, but every submit wrote an
 * entry into it (migration 012 dropped it).
 */
export async function nextRunAt(db: Db, tasks: string[]): Promise<number | null> {
  if (tasks.length === 0) return null;
  const rows = await db.read<{ t: string | null }>(NEXT_RUN_AT(db.s), [tasks]);
  const t = rows[0]?.t;
  return t === null || t === undefined ? null : Number(t);
}
