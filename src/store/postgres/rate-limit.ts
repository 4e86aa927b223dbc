import type { Json } from '../../types.js';
import type { ClaimRequest, Claimed, RateLimit } from '../contract.js';
import { bucketKey, rateLimitReason } from '../sqlite/rate-limit.js';
import type { Db } from './db.js';
import { jobColumns, toJob } from './rows.js';
import { pauseReason } from './schedules.js';

/**
 * Claims jobs of rate-limited tasks in one transaction: an advisory lock per task serialises the claimers of that
 * task across all workers (the window check and the recorded start must not interleave), then candidates are taken
 * with FOR UPDATE SKIP LOCKED, admitted against the sliding window in `rate_starts`, and the ones over the limit
 * stay `queued` with run_at moved to their bucket's next free slot and a wait reason.
 */
/** `held`: these rows come after the claim's first ClaimRequest.start rows (they wait in the prefetch buffer). */
export async function claimRateLimited(db: Db, req: ClaimRequest, tasks: Array<[string, number]>, limit: number, held: boolean): Promise<Claimed[]> {
  const S = db.s;
  const limits = req.rateLimits ?? {};
  if (tasks.length === 0 || limit <= 0) return [];
  const rows = await db.tx(async (q) => {
    const sorted = [...tasks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await q(`SELECT pg_advisory_xact_lock(hashtextextended($1 || t, 0)) FROM unnest($2::text[]) AS t`, [`vigil:rate:${S}:`, sorted.map(([t]) => t)]);
    const [{ now: nowText }] = (await q<{ now: string }>(`SELECT ${S}.now_ms() AS now`)) as [{ now: string }];
    const now = Number(nowText);
    const paused = new Map(
      (await q(`SELECT task, until, reason FROM ${S}.task_pauses WHERE until > $1 AND task = ANY($2::text[])`, [now, sorted.map(([t]) => t)])).map(
        (r) => [String(r.task), { until: Number(r.until), reason: String(r.reason) }],
      ),
    );
    const take: string[] = [];
    const defer: { id: string[]; at: number[]; reason: string[] } = { id: [], at: [], reason: [] };
    const starts: { task: string[]; key: string[] } = { task: [], key: [] };
    for (const [task, cap] of sorted) {
      const limitOf: RateLimit | undefined = limits[task];
      const cands = await q(
        `SELECT id, input FROM ${S}.jobs
          WHERE state = 'queued' AND task = $1 AND run_at <= $2 AND (deadline_at IS NULL OR deadline_at > $2)
            AND ($4::bigint IS NULL OR id IN (WITH RECURSIVE tree(id) AS (SELECT $4::bigint UNION ALL SELECT j.id FROM ${S}.jobs j JOIN tree ON j.parent_id = tree.id) SELECT id FROM tree))
          ORDER BY priority DESC, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [task, now, Math.min(cap, limit), req.rootJobId ?? null],
      );
      const pause = paused.get(task);
      if (pause) {
        for (const c of cands) defer.id.push(String(c.id)), defer.at.push(pause.until), defer.reason.push(pauseReason(task, pause.reason));
        continue;
      }
      if (!limitOf) continue;
      await q(`DELETE FROM ${S}.rate_starts WHERE task = $1 AND at <= $2`, [task, now - limitOf.perMs]);
      const buckets = new Map<string, number[]>();
      for (const r of await q(`SELECT key, at FROM ${S}.rate_starts WHERE task = $1 ORDER BY at`, [task])) {
        const k = String(r.key);
        buckets.set(k, [...(buckets.get(k) ?? []), Number(r.at)]);
      }
      for (const c of cands) {
        const key = limitOf.key ? bucketKey(limitOf, JSON.parse(String(c.input)) as Json) : '';
        const b = buckets.get(key) ?? [];
        buckets.set(key, b);
        if (take.length < limit && b.length < limitOf.max) {
          b.push(now);
          take.push(String(c.id));
          starts.task.push(task);
          starts.key.push(key);
        } else if (b.length >= limitOf.max) {
          defer.id.push(String(c.id));
          defer.at.push(b[b.length - limitOf.max]! + limitOf.perMs);
          defer.reason.push(rateLimitReason(task, key, limitOf));
        }
      }
    }
    if (defer.id.length > 0) {
      await q(
        `UPDATE ${S}.jobs j SET run_at = d.at, wait_reason = d.reason FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS d(id, at, reason) WHERE j.id = d.id`,
        [defer.id, defer.at, defer.reason],
      );
    }
    if (take.length === 0) return [];
    await q(`INSERT INTO ${S}.rate_starts (task, key, at) SELECT t, k, $3 FROM unnest($1::text[], $2::text[]) AS u(t, k)`, [starts.task, starts.key, now]);
    return q(
      `WITH claimed AS (
         UPDATE ${S}.jobs j
            SET state = 'running', attempts = j.attempts + 1, lease_owner = $2, lease_expires_at = $3::bigint + $4::bigint,
                started_at = $3, finished_at = NULL, updated_at = $3, last_heartbeat_at = NULL, progress = NULL, wait_reason = NULL,
                held = $5::boolean
          WHERE j.id = ANY($1::bigint[])
         RETURNING ${jobColumns('j')}
       ),
       att AS (
         INSERT INTO ${S}.attempts (job_id, attempt, worker_id, started_at, charged)
         SELECT id, attempts, lease_owner, started_at, true FROM claimed
       )
       SELECT * FROM claimed ORDER BY priority DESC, run_at, id`,
      [take, req.workerId, now, Math.max(1, Math.round(req.leaseMs)), held],
    );
  });
  return rows.map((r) => {
    const job = toJob(r);
    return { job, fence: { jobId: job.id, attempt: job.attempts, workerId: req.workerId } };
  });
}
