import type { AttemptSnapshot, Job, JobState } from '../../types.js';
import type { ActivityUpdate, AttemptFinish, Fence, NewLogLine, SnapshotRequest } from '../contract.js';
import { nextState } from '../next-state.js';
import { fastParams, type FastClaim } from './claim.js';
import { applyDecisions, DECISION_COLUMNS, decisionFacts, decisionPolicy, type DecisionRow } from './apply.js';
import type { Db, Query, Row } from './db.js';
import { cutLogLine, LOG_RETENTION_CHUNK, LOG_RETENTION_LINES } from '../log-rules.js';
import { isJobId } from '../rows.js';
import { fenceKey } from '../requests.js';
import { JOB_COLUMNS, json, jobColumns, jsonValue, toJob } from './rows.js';

// Every write on behalf of an attempt carries this condition (DESIGN G5): a zombie whose lease expired or was taken
// over changes nothing. `now` is the database's clock. The lease test is wrapped in IS TRUE (same truth: a NULL
// lease fails both ways) so it is never an index condition: offered one, the planner could walk jobs_leases (every
// running job) to find the one fenced row; it did so with few jobs running (EXPLAIN in bench/NOTES.md, pgperf).
const FENCED = (j: string, jobId: string, attempt: string, worker: string, now: string): string =>
  `${j}.id = ${jobId} AND ${j}.attempts = ${attempt} AND ${j}.lease_owner = ${worker} AND ${j}.state = 'running'
   AND (${j}.lease_expires_at > ${now}) IS TRUE`;

/**
 * The fenced job rows named by `src` (a CTE with job_id, attempt, worker_id), locked one by one in job id order,
 * with the `carry` columns of `src`. Every statement that updates several job rows takes their locks this way first,
 * as the finishes do (finishDecided, finish_succeeded): two such statements then never wait on each other in a
 * cycle. Without it an UPDATE … FROM unnest(…) locked in the order of its join, and a lease renewal deadlocked with
 * a batch of finishes (bench/NOTES.md, session 2026-12-01 day): both stalled for deadlock_timeout, and PostgreSQL
 * aborted one of them (the store then retried it).
 */
const LOCK_FENCED = (S: string, src: string, now: string, carry: readonly string[] = []): string =>
  `SELECT x.id${carry.map((c) => `, o.${c}`).join('')}
     FROM (SELECT * FROM ${src} ORDER BY job_id) o, LATERAL (
       SELECT j.id FROM ${S}.jobs j WHERE ${FENCED('j', 'o.job_id', 'o.attempt', 'o.worker_id', now)} FOR UPDATE
     ) x`;

function fenceArrays(fences: readonly Fence[]): [string[], number[], string[]] {
  return [fences.map((f) => f.jobId), fences.map((f) => f.attempt), fences.map((f) => f.workerId)];
}

const isId = isJobId;

export async function renewLeases(
  db: Db,
  workerId: string,
  fences: Fence[],
  leaseMs: number,
  held: Fence[] = [],
): Promise<{ lost: Fence[]; cancelRequested: Fence[]; snapshotRequested: SnapshotRequest[] }> {
  if (fences.length === 0) return { lost: [], cancelRequested: [], snapshotRequested: [] };
  const valid = fences.filter((f) => isId(f.jobId) && f.workerId === workerId);
  const heldKeys = new Set(held.map(fenceKey));
  const rows = valid.length === 0 ? [] : await db.query<{ job_id: string; attempt: number; ok: boolean; cancel: boolean; snapshot: string | number | null }>(
    `WITH c AS (SELECT ${db.s}.now_ms() AS now),
     f AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $5::boolean[]) AS f(job_id, attempt, worker_id, held)),
     lk AS (${LOCK_FENCED(db.s, 'f', '(SELECT now FROM c)', ['held'])}),
     upd AS (
       -- lk fenced and locked these rows in this statement: nothing can have moved them since.
       UPDATE ${db.s}.jobs j SET lease_expires_at = c.now + $4::bigint, held = lk.held
         FROM lk, c
        WHERE j.id = lk.id
       RETURNING j.id, j.attempts, j.cancel_requested, j.snapshot_requested_at
     )
     SELECT f.job_id::text AS job_id, f.attempt, upd.id IS NOT NULL AS ok, coalesce(upd.cancel_requested, false) AS cancel,
            upd.snapshot_requested_at AS snapshot
       FROM f LEFT JOIN upd ON upd.id = f.job_id AND upd.attempts = f.attempt`,
    [...fenceArrays(valid), Math.max(1, Math.round(leaseMs)), valid.map((f) => heldKeys.has(fenceKey(f)))],
  );
  const state = new Map(rows.map((r) => [`${r.job_id}/${r.attempt}`, r]));
  const lost: Fence[] = [];
  const cancelRequested: Fence[] = [];
  const snapshotRequested: SnapshotRequest[] = [];
  for (const f of fences) {
    const r = state.get(`${f.jobId}/${f.attempt}`);
    if (!r || !r.ok || f.workerId !== workerId) lost.push(f);
    else if (r.cancel) cancelRequested.push(f);
    else if (r.snapshot !== null) snapshotRequested.push({ fence: f, requestedAt: Number(r.snapshot) });
  }
  return { lost, cancelRequested, snapshotRequested };
}

export async function recordActivity(db: Db, updates: ActivityUpdate[]): Promise<void> {
  // One row per attempt: UPDATE … FROM with two matches for one row would apply an arbitrary one.
  const merged = new Map<string, ActivityUpdate>();
  for (const u of updates) {
    if (!isId(u.fence.jobId) || (u.heartbeatAt === undefined && u.progress === undefined)) continue;
    const key = `${u.fence.jobId}/${u.fence.attempt}/${u.fence.workerId}`;
    const prev = merged.get(key);
    merged.set(key, {
      fence: u.fence,
      heartbeatAt: maxDefined(prev?.heartbeatAt, u.heartbeatAt),
      progress: u.progress ?? prev?.progress,
    });
  }
  const list = [...merged.values()];
  if (list.length === 0) return;
  await db.query(
    `WITH c AS (SELECT ${db.s}.now_ms() AS now),
     u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], $5::text[])
             AS u(job_id, attempt, worker_id, heartbeat_at, progress)),
     lk AS (${LOCK_FENCED(db.s, 'u', '(SELECT now FROM c)', ['heartbeat_at', 'progress'])})
     UPDATE ${db.s}.jobs j
        SET last_heartbeat_at = coalesce(greatest(j.last_heartbeat_at, lk.heartbeat_at), lk.heartbeat_at, j.last_heartbeat_at),
            progress = coalesce(lk.progress, j.progress)
       FROM lk
      WHERE j.id = lk.id`,
    [
      ...fenceArrays(list.map((u) => u.fence)),
      list.map((u) => (u.heartbeatAt === undefined ? null : Math.round(u.heartbeatAt))),
      list.map((u) => json(u.progress)),
    ],
  );
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

export async function appendLogs(db: Db, lines: NewLogLine[]): Promise<void> {
  const list = lines.filter((l) => isId(l.fence.jobId));
  if (list.length === 0) return;
  // The seq counter lives on the job row: the fenced UPDATE takes the row lock and hands out a block of seqs, so
  // concurrent appends for one job never collide and lines of a stale fence never get a number.
  await db.query(
    `WITH c AS (SELECT ${db.s}.now_ms() AS now),
     l AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::text[])
             WITH ORDINALITY AS l(job_id, attempt, worker_id, ts, stream, line, ord)),
     n AS (SELECT job_id, attempt, worker_id, count(*)::int AS n FROM l GROUP BY job_id, attempt, worker_id),
     lk AS (${LOCK_FENCED(db.s, 'n', '(SELECT now FROM c)', ['n'])}),
     bump AS (
       UPDATE ${db.s}.jobs j SET log_seq = j.log_seq + lk.n
         FROM lk
        WHERE j.id = lk.id
       RETURNING j.id, j.attempts, j.lease_owner, j.log_seq - lk.n AS base, lk.n
     ),
     ins AS (
       INSERT INTO ${db.s}.logs (job_id, seq, attempt, ts, stream, line)
       SELECT l.job_id, bump.base + row_number() OVER (PARTITION BY l.job_id ORDER BY l.ord), l.attempt, l.ts, l.stream, l.line
         FROM l JOIN bump ON bump.id = l.job_id AND bump.attempts = l.attempt AND bump.lease_owner = l.worker_id
     )
     -- Retention, as in SQLite: when a job's seq crosses a multiple of the chunk, one indexed range delete keeps
     -- its last ${LOG_RETENTION_LINES} lines.
     DELETE FROM ${db.s}.logs o USING bump
      WHERE o.job_id = bump.id AND bump.base + bump.n > ${LOG_RETENTION_LINES}
        AND (bump.base + bump.n) / ${LOG_RETENTION_CHUNK} <> bump.base / ${LOG_RETENTION_CHUNK}
        AND o.seq <= bump.base + bump.n - ${LOG_RETENTION_LINES}`,
    [
      ...fenceArrays(list.map((l) => l.fence)),
      list.map((l) => Math.round(l.ts)),
      list.map((l) => l.stream),
      // PostgreSQL text can not hold NUL; a program printing one must not lose its whole batch of lines.
      list.map((l) => noNul(cutLogLine(String(l.line)))),
    ],
  );
}

/**
 * Ends attempts. A success is written by one fenced statement of its own (finishSucceeded); every other outcome
 * by one transaction that locks the fenced job rows (`SELECT … FOR UPDATE`, in id order so two batches never
 * deadlock), lets nextState() decide each in TypeScript, and writes every decision with one set-based statement.
 * Returns, per item, the job after the change or null for a stale fence. A second call for the same fence answers
 * null: the attempt is over. (If the reply to a committed call is lost with the connection, the retry answers null
 * too; the outcome is recorded once, and the attempt's row shows it.)
 */
export async function finishAttempts(db: Db, items: Array<{ fence: Fence; finish: AttemptFinish }>): Promise<Array<Job | null>> {
  const valid = items.filter((i) => isId(i.fence.jobId));
  if (valid.length === 0) return items.map(() => null);
  const succeeded = valid.filter((i) => i.finish.outcome === 'succeeded');
  const others = valid.filter((i) => i.finish.outcome !== 'succeeded');
  // All successes: one autocommitted statement. Anything else: one transaction for the whole batch, successes
  // included, so a failure leaves none of it committed (the group commit then retries item by item, and a success
  // committed on its own would answer "stale fence" to that retry).
  const jobs = others.length === 0
    ? await finishSucceeded(db.query, db.s, succeeded)
    : await db.tx(async (q) => [...(await finishSucceeded(q, db.s, succeeded)), ...(await finishDecided(q, db.s, others))]);
  const done = new Map(jobs.map((job) => [job.id, job]));
  return items.map((i) => {
    const job = done.get(i.fence.jobId);
    return job && job.attempts === i.fence.attempt ? job : null;
  });
}

/**
 * nextState() decides a success without reading the row (its rule 1: `succeeded`, charged, the result kept, the
 * charged count one up; test/postgres-store.test.ts checks that against nextState for varied rows), so successes
 * need no locking read and no decision round trip: one autocommitted statement locks the fenced rows in id order,
 * writes the decision nextState gives and ends the attempts: one round trip per batch instead of four (BEGIN,
 * SELECT … FOR UPDATE, UPDATE, COMMIT), each of which costs a scheduler wake-up of the backend on a busy machine.
 */
async function finishSucceeded(q: Query, S: string, items: Array<{ fence: Fence; finish: AttemptFinish }>): Promise<Job[]> {
  if (items.length === 0) return [];
  // The function (migration 011) parses its statements once per session; this call is prepared (its plan is a bare
  // Function Scan). Same writes as the statement it replaced: see the migration.
  const rows = await q(`SELECT ${JOB_COLUMNS.map((col) => `f.${col}`).join(', ')} FROM ${S}.finish_succeeded($1::bigint[], $2::int[], $3::text[], $4::text[]) f`, succeededParams(items), true);
  return rows.map(toJob);
}

function succeededParams(items: Array<{ fence: Fence; finish: AttemptFinish }>): unknown[] {
  const decided = items.map((i) => ({ fence: i.fence, next: nextState(ANY_ROW, i.finish, ANY_POLICY, 0) }));
  for (const d of decided) {
    // A guard, not a branch: should rule 1 ever read the row, this path must go (the test above fails first).
    if (d.next.state !== 'succeeded' || !d.next.charged || d.next.chargedAttempts !== 1 || d.next.error !== null) {
      throw new Error('nextState no longer decides a success without the row: finishSucceeded must not be used');
    }
  }
  return [...fenceArrays(decided.map((d) => d.fence)), decided.map((d) => jsonValue(d.next.result))];
}

/**
 * Successes and one claim (its fast path, migration 010) in ONE autocommitted statement: a C=1 worker's finish and
 * the refill claim it sends with it cost one round trip and one commit instead of two of each. The claim does not
 * depend on the finish (different rows: running ones are finished, queued ones claimed, so no row is touched twice),
 * and nothing of either is visible, or acknowledged, before the one commit.
 */
export async function finishSucceededAndClaim(
  db: Db,
  items: Array<{ fence: Fence; finish: AttemptFinish }>,
  claim: FastClaim,
): Promise<{ finished: Array<Job | null>; claimRows: Row[] }> {
  const rows = await db.query(
    `SELECT f.fin, ${JOB_COLUMNS.map((col) => `(f.job).${col}`).join(', ')}, f.expired, f.claim_now
       FROM ${db.s}.finish_succeeded_claim($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int, $8::text, $9::bigint, $10::int, $11::int) f`,
    [...succeededParams(items), ...fastParams(claim)],
    true,
  );
  const done = new Map(rows.filter((r) => r.fin === true).map((r) => [String(r.id), toJob(r)]));
  return {
    finished: items.map((i) => {
      const job = done.get(i.fence.jobId);
      return job && job.attempts === i.fence.attempt ? job : null;
    }),
    claimRows: rows.filter((r) => r.fin !== true),
  };
}

/** What a success's decision is made on: any row and any policy give the same (see finishSucceeded). */
const ANY_ROW = { chargedAttempts: 0, deadlineAt: null, cancelRequested: false, cancelReason: null } as const;
const ANY_POLICY = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 } as const;

/** Every outcome but success, inside the caller's transaction: lock, decide with nextState() on the locked row, write. */
async function finishDecided(q: Query, S: string, items: Array<{ fence: Fence; finish: AttemptFinish }>): Promise<Job[]> {
  const rows = await q<DecisionRow & { attempt: number; worker_id: string }>(
    // Row by row through the primary key, locked in id order (see finishSucceeded).
    `WITH f AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[]) AS f(job_id, attempt, worker_id))
     SELECT x.*, o.attempt, o.worker_id FROM (SELECT * FROM f ORDER BY job_id) o, LATERAL (
       SELECT ${DECISION_COLUMNS(S)} FROM ${S}.jobs j
        WHERE ${FENCED('j', 'o.job_id', 'o.attempt', 'o.worker_id', `${S}.now_ms()`)}
          FOR UPDATE
     ) x`,
    fenceArrays(items.map((i) => i.fence)),
  );
  if (rows.length === 0) return [];
  const byFence = new Map(items.map((i) => [`${i.fence.jobId}/${i.fence.attempt}/${i.fence.workerId}`, i.finish]));
  const now = Number(rows[0]!.now);
  const decisions = rows.map((row) => {
    const finish = byFence.get(`${row.id}/${row.attempt}/${row.worker_id}`)!;
    return { jobId: row.id, attempt: row.attempt, finish, next: nextState(decisionFacts(row), finish, decisionPolicy(row), now) };
  });
  return applyDecisions(q, S, decisions, now);
}

function noNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
}

/** Store.requestSnapshot: stamps a running job (one statement); reports the state of any other. */
export async function requestSnapshot(db: Db, jobId: string, channel: string): Promise<{ state: JobState; requestedAt: number | null } | null> {
  if (!isId(jobId)) return null;
  // The NOTIFY (sent at commit) wakes the lease holder at once instead of at its next renewal.
  const rows = await db.query<{ state: JobState; stamped: string | number | null; notified: string | number }>(
    `WITH c AS (SELECT ${db.s}.now_ms() AS now),
     upd AS (UPDATE ${db.s}.jobs j SET snapshot_requested_at = c.now FROM c WHERE j.id = $1 AND j.state = 'running' RETURNING j.id, c.now),
     n AS (SELECT pg_notify($2, json_build_object('t', 's', 'i', upd.id::text, 'r', upd.now)::text) FROM upd)
     SELECT j.state, upd.now AS stamped, (SELECT count(*) FROM n) AS notified
       FROM ${db.s}.jobs j LEFT JOIN upd ON upd.id = j.id WHERE j.id = $1`,
    [jobId, channel],
  );
  const r = rows[0];
  if (!r) return null;
  return { state: r.state, requestedAt: r.stamped === null ? null : Number(r.stamped) };
}

/** Store.saveSnapshot: fenced like every write on behalf of an attempt; one statement. */
export async function saveSnapshot(db: Db, fence: Fence, snapshot: AttemptSnapshot): Promise<boolean> {
  if (!isId(fence.jobId)) return false;
  const rows = await db.query<{ ok: boolean }>(
    `WITH c AS (SELECT ${db.s}.now_ms() AS now),
     j AS (
       UPDATE ${db.s}.jobs j SET snapshot_requested_at = CASE WHEN j.snapshot_requested_at <= $5::bigint THEN NULL ELSE j.snapshot_requested_at END
         FROM c WHERE ${FENCED('j', '$1::bigint', '$2::int', '$3::text', 'c.now')}
       RETURNING j.id
     ),
     a AS (
       UPDATE ${db.s}.attempts a SET snapshot = $4 FROM j
        WHERE a.job_id = j.id AND a.attempt = $2::int AND a.finished_at IS NULL
       RETURNING a.job_id
     )
     SELECT EXISTS (SELECT 1 FROM a) AS ok`,
    [fence.jobId, fence.attempt, fence.workerId, JSON.stringify(snapshot), snapshot.requestedAt],
  );
  return rows[0]?.ok === true;
}
