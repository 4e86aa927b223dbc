import type { Job, JobState } from '../../types.js';
import { TERMINAL_STATES } from '../../types.js';
import type { EnqueueResult, JobFilter, NewJob, StoreEvent } from '../contract.js';
import { checkNewJob, listLimit, orderByIds } from '../requests.js';
import { isJobId, rowToJob, type JobRow } from '../rows.js';
import type { Db } from './connection.js';
import { stmt } from './statements.js';

export interface OpResult<T> {
  value: T;
  events: StoreEvent[];
}

const INSERT_JOB = `INSERT INTO jobs (task, state, input, max_attempts, retry_policy, parent_id, child_key, idempotency_key,
    priority, run_at, created_at, updated_at, deadline_ms, deadline_at)
  VALUES (@task, 'queued', @input, @maxAttempts, @retry, @parentId, @childKey, @idempotencyKey,
    @priority, @runAt, @now, @now, @deadlineMs, @deadlineAt)
  RETURNING *`;

/** Inserts a batch in order; called inside one transaction. Existing (parent, key) or idempotency keys are returned. */
export function enqueue(db: Db, jobs: NewJob[], now: number): OpResult<EnqueueResult[]> {
  const byKey = stmt(db, 'SELECT * FROM jobs WHERE idempotency_key = ?');
  const byChild = stmt(db, 'SELECT * FROM jobs WHERE parent_id = ? AND child_key = ?');
  const insert = stmt(db, INSERT_JOB);
  const out: EnqueueResult[] = [];
  const tasks = new Set<string>();
  const parentDeadlines = new Map<string, number | null>();
  for (const [i, j] of jobs.entries()) {
    checkNewJob(j, i);
    const parentId = j.parentId ?? null;
    const childKey = j.childKey ?? null;
    const idempotencyKey = j.idempotencyKey ?? null;
    let existing = idempotencyKey !== null ? (byKey.get(idempotencyKey) as JobRow | undefined) : undefined;
    if (!existing && parentId !== null && childKey !== null) existing = byChild.get(Number(parentId), childKey) as JobRow | undefined;
    if (existing) {
      out.push({ job: rowToJob(existing), created: false });
      continue;
    }
    const deadlineMs = j.deadlineMs ?? null;
    const row = insert.get({
      task: j.task,
      input: JSON.stringify(j.input ?? null),
      maxAttempts: j.retry.maxAttempts,
      retry: JSON.stringify(j.retry),
      parentId: parentId === null ? null : Number(parentId),
      childKey,
      idempotencyKey,
      priority: j.priority ?? 0,
      runAt: now + Math.max(0, j.delayMs ?? 0),
      now,
      deadlineMs,
      deadlineAt: earliest(deadlineMs === null ? null : now + deadlineMs, parentId === null ? null : parentDeadline(db, parentId, parentDeadlines)),
    }) as JobRow;
    out.push({ job: rowToJob(row), created: true });
    tasks.add(j.task);
  }
  return { value: out, events: tasks.size ? [{ type: 'enqueued', tasks: [...tasks] }] : [] };
}

/** One deadline bounds a tree: a child's is never later than its parent's (read once per parent per batch). */
function parentDeadline(db: Db, parentId: string, cache: Map<string, number | null>): number | null {
  if (!cache.has(parentId)) {
    const row = stmt(db, 'SELECT deadline_at FROM jobs WHERE id = ?').get(Number(parentId)) as { deadline_at: number | null } | undefined;
    cache.set(parentId, row?.deadline_at ?? null);
  }
  return cache.get(parentId) ?? null;
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

export function get(db: Db, jobId: string): JobRow | undefined {
  if (!isJobId(jobId)) return undefined;
  return stmt(db, 'SELECT * FROM jobs WHERE id = ?').get(Number(jobId)) as JobRow | undefined;
}

/** In the order asked, missing ids omitted. */
export function getMany(db: Db, jobIds: string[]): Job[] {
  const ids = jobIds.filter(isJobId);
  if (ids.length === 0) return [];
  const rows = stmt(db, 'SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids.map(Number))) as JobRow[];
  return orderByIds(ids, rows.map(rowToJob));
}

/** Newest first. */
export function list(db: Db, f: JobFilter): JobRow[] {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  // jobs_state_id leaves running jobs out (migration 010): a state other than running names the index's condition
  // so SQLite may use it; running jobs are read through jobs_lease, which holds exactly them (few: one per slot).
  let from = 'jobs';
  if (f.state === 'running') {
    from = 'jobs INDEXED BY jobs_lease';
    where.push("state = 'running'");
  } else if (f.state !== undefined) {
    where.push("state = @state AND state <> 'running'");
    params.state = f.state;
  }
  if (f.task !== undefined) {
    where.push('task = @task');
    params.task = f.task;
  }
  if (f.parentId === null) where.push('parent_id IS NULL');
  else if (f.parentId !== undefined) {
    if (!isJobId(f.parentId)) return [];
    where.push('parent_id = @parentId');
    params.parentId = Number(f.parentId);
  }
  if (f.beforeId !== undefined) {
    if (!isJobId(f.beforeId)) return [];
    where.push('id < @beforeId');
    params.beforeId = Number(f.beforeId);
  }
  params.limit = listLimit(f.limit);
  const sql = `SELECT * FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
  return stmt(db, sql).all(params) as JobRow[];
}

export function children(db: Db, parentId: string): JobRow[] {
  if (!isJobId(parentId)) return [];
  return stmt(db, 'SELECT * FROM jobs WHERE parent_id = ? ORDER BY id').all(Number(parentId)) as JobRow[];
}

export function counts(db: Db): Record<JobState, number> {
  const out: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  // One statement (one snapshot): every state but running from jobs_state_id, which leaves running jobs out
  // (migration 010), running ones from jobs_lease, which holds exactly them. Both covering: no table row is read.
  const rows = stmt(
    db,
    `SELECT state, COUNT(*) AS n FROM jobs INDEXED BY jobs_state_id WHERE state <> 'running' GROUP BY state
     UNION ALL SELECT 'running', COUNT(*) FROM jobs INDEXED BY jobs_lease WHERE state = 'running'`,
  ).all() as Array<{ state: JobState; n: number }>;
  for (const r of rows) out[r.state] = r.n;
  return out;
}

export function nextRunAt(db: Db, tasks: string[]): number | null {
  let next: number | null = null;
  for (const task of tasks) {
    const t = firstRunAt(db, task);
    if (t !== null && (next === null || t < next)) next = t;
  }
  return next;
}

/**
 * The earliest run_at among a task's queued jobs, from jobs_claim (task, priority DESC, run_at, id): a skip over the
 * task's distinct priorities (usually one), then one probe each — never a walk over its queue. A separate
 * (task, run_at) index answered this in one probe, but every submit wrote an entry into it and every claim removed
 * one (migration 012).
 */
export function firstRunAt(db: Db, task: string): number | null {
  const row = stmt(
    db,
    `WITH RECURSIVE p(pr) AS (
       SELECT (SELECT priority FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task = @task ORDER BY priority DESC LIMIT 1)
       UNION ALL
       SELECT (SELECT priority FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task = @task AND priority < p.pr
                ORDER BY priority DESC LIMIT 1)
         FROM p WHERE p.pr IS NOT NULL)
     SELECT MIN((SELECT run_at FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task = @task AND priority = p.pr
                  ORDER BY run_at LIMIT 1)) AS t
       FROM p WHERE p.pr IS NOT NULL`,
  ).get({ task }) as { t: number | null } | undefined;
  return row?.t ?? null;
}

/** The tasks with queued jobs, from jobs_claim: a skip from one task to the next, not a walk over the queue. */
export function queuedTasks(db: Db): string[] {
  const rows = stmt(
    db,
    `WITH RECURSIVE t(task) AS (
       SELECT (SELECT task FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' ORDER BY task LIMIT 1)
       UNION ALL
       SELECT (SELECT task FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task > t.task ORDER BY task LIMIT 1)
         FROM t WHERE t.task IS NOT NULL)
     SELECT task FROM t WHERE task IS NOT NULL`,
  ).all() as Array<{ task: string }>;
  return rows.map((r) => r.task);
}

export function finishedEvent(row: JobRow): StoreEvent {
  return { type: 'finished', jobId: String(row.id), parentId: row.parent_id === null ? null : String(row.parent_id), state: row.state as JobState };
}

export function isTerminal(state: string): boolean {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

