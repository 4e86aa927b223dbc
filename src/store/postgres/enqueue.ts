import type { Job } from '../../types.js';
import type { EnqueueResult, NewJob } from '../contract.js';
import type { Db, Row } from './db.js';
import { checkNewJob } from '../requests.js';
import { jobColumns, jsonValue, toJob } from './rows.js';

/**
 * Inserts a batch in one statement (`INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`), so 1,000 children of
 * a fan-out cost one round trip. Rows that hit a (parent, childKey) or idempotency key come back as the existing job.
 */
export async function enqueue(db: Db, jobs: NewJob[]): Promise<EnqueueResult[]> {
  if (jobs.length === 0) return [];
  jobs.forEach(checkNewJob);
  const S = db.s;
  const cols = {
    task: jobs.map((j) => j.task),
    input: jobs.map((j) => jsonValue(j.input)),
    retry: retryTexts(jobs),
    maxAttempts: jobs.map((j) => j.retry.maxAttempts),
    priority: jobs.map((j) => j.priority ?? 0),
    delay: jobs.map((j) => Math.max(0, Math.round(j.delayMs ?? 0))),
    deadline: jobs.map((j) => (j.deadlineMs === null || j.deadlineMs === undefined ? null : Math.round(j.deadlineMs))),
    parent: jobs.map((j) => j.parentId ?? null),
    childKey: jobs.map((j) => j.childKey ?? null),
    idem: jobs.map((j) => j.idempotencyKey ?? null),
  };
  // Which of the batch's keys exist decides the statement's shape. With no idempotency key and no child key in the
  // batch (a plain bulk submit), no row can conflict: the unique indexes on jobs are partial on those keys (and ids
  // are generated), so a plain INSERT skips ON CONFLICT's speculative insertion, and the look-ups of existing rows
  // are left out (on a large table each could be a scan of it: EXPLAIN in bench/NOTES.md, pg 2026-11-30).
  const anyChildKey = jobs.some((j) => j.parentId != null && j.childKey != null);
  const anyIdem = jobs.some((j) => j.idempotencyKey != null);
  const anyParent = jobs.some((j) => j.parentId != null);
  const keyless = !anyChildKey && !anyIdem;
  const batch = inputRows(['input', 'text', cols.input], [
    ['task', 'text', cols.task],
    ['retry', 'text', cols.retry],
    ['max_attempts', 'int', cols.maxAttempts],
    ['priority', 'int', cols.priority],
    ['delay_ms', 'bigint', cols.delay],
    ['deadline_ms', 'bigint', cols.deadline],
    ['parent_id', 'bigint', cols.parent],
    ['child_key', 'text', cols.childKey],
    ['idempotency_key', 'text', cols.idem],
  ]);
  const rows = await db.query<Row & { created: boolean }>(
    `WITH c AS (SELECT ${S}.now_ms() AS now),
     input AS (${batch.sql}),
     ins AS (
       INSERT INTO ${S}.jobs (task, state, input, retry, max_attempts, priority, run_at, created_at, updated_at,
                              deadline_ms, deadline_at, parent_id, child_key, idempotency_key)
       SELECT i.task, 'queued', i.input, i.retry, i.max_attempts, i.priority, c.now + i.delay_ms, c.now, c.now,
              i.deadline_ms,
              -- One deadline bounds a tree: a child's is never later than its parent's (LEAST skips NULLs).
              ${anyParent ? `LEAST(c.now + i.deadline_ms, (SELECT p.deadline_at FROM ${S}.jobs p WHERE p.id = i.parent_id))` : 'c.now + i.deadline_ms'},
              i.parent_id, i.child_key, i.idempotency_key
         FROM input i CROSS JOIN c
        ORDER BY i.ord
       ${anyChildKey || anyIdem ? 'ON CONFLICT DO NOTHING' : ''}
       RETURNING ${keyless ? 'id, deadline_at, created_at' : jobColumns()}
     )
     SELECT true AS created, ${keyless ? 'id, deadline_at, created_at' : jobColumns()} FROM ins${
       anyChildKey
         ? `
     UNION ALL
     SELECT false, ${jobColumns('j')} FROM ${S}.jobs j
       JOIN (SELECT DISTINCT parent_id, child_key FROM input WHERE parent_id IS NOT NULL AND child_key IS NOT NULL) k
         ON j.parent_id = k.parent_id AND j.child_key = k.child_key
      WHERE j.parent_id IS NOT NULL AND j.child_key IS NOT NULL`
         : ''
     }${
       anyIdem
         ? `
     UNION ALL
     SELECT false, ${jobColumns('j')} FROM ${S}.jobs j
      WHERE j.idempotency_key IN (SELECT idempotency_key FROM input WHERE idempotency_key IS NOT NULL)`
         : ''
     }`,
    batch.params,
  );
  if (keyless) return filledIn(jobs, cols, rows);
  const inserted = rows.filter((r) => r.created).map(toJob).sort((a, b) => compareIds(a.id, b.id));
  const existing = new KeyIndex();
  for (const r of rows) if (!r.created) existing.add(toJob(r));

  const out: Array<EnqueueResult | undefined> = [];
  const unresolved: number[] = [];
  let next = 0;
  // Identity values follow the ORDER BY of the INSERT, so inserted rows come in input order; an input that is not
  // the next inserted row was a duplicate: of a stored job, or of an earlier input of this batch.
  jobs.forEach((j, i) => {
    const candidate = inserted[next];
    if (candidate && sameKeys(candidate, j)) {
      next++;
      existing.add(candidate);
      out.push({ job: candidate, created: true });
      return;
    }
    const found = existing.find(j);
    if (found) out.push({ job: found, created: false });
    else {
      out.push(undefined);
      unresolved.push(i);
    }
  });
  if (unresolved.length > 0) {
    // The conflicting row was committed by a concurrent enqueue after this statement's snapshot: read it now.
    const later = await findByKeys(db, unresolved.map((i) => jobs[i]!));
    for (const i of unresolved) {
      const found = later.find(jobs[i]!);
      if (!found) throw new Error(`enqueue: job ${i} of the batch was neither inserted nor found (internal error)`);
      out[i] = { job: found, created: false };
    }
  }
  return out as EnqueueResult[];
}

/** A batch's jobs usually share one retry policy object: encoded once per batch (never cached across calls, where
 * the caller may have changed it). */
function retryTexts(jobs: NewJob[]): string[] {
  let last: NewJob['retry'] | undefined;
  let text = '';
  return jobs.map((j) => (j.retry === last ? text : ((last = j.retry), (text = JSON.stringify(j.retry)))));
}

type Column = readonly [name: string, type: 'text' | 'int' | 'bigint', values: ReadonlyArray<string | number | null>];

/**
 * The batch as a relation (one row per job, in input order as `ord`). A column whose value is the same for every job
 * — everything but the input in a submitMany — is one parameter, not an array: the server then parses one value
 * instead of 1,000 and the client escapes none (a retry policy's JSON is quoted element by element in an array
 * literal). Measured on 1,000-job batches: server 33 → 25 µs per job, client 8–14 → 4 µs (bench/NOTES.md).
 */
function inputRows(each: Column, columns: Column[]): { sql: string; params: unknown[] } {
  const params: unknown[] = [each[2]];
  const arrays = [`$1::${each[1]}[]`];
  const names = [each[0]];
  const constants: string[] = [];
  for (const [name, type, values] of columns) {
    const first = values[0];
    if (values.every((v) => v === first)) {
      params.push(first);
      constants.push(`, $${params.length}::${type} AS ${name}`);
    } else {
      params.push(values);
      arrays.push(`$${params.length}::${type}[]`);
      names.push(name);
    }
  }
  return { sql: `SELECT t.*${constants.join('')} FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS t(${names.join(', ')}, ord)`, params };
}

/**
 * A keyless batch: every job was inserted (nothing can conflict), and the statement returned only what the
 * database decided (id, deadline, its clock); the rest of each row is what was sent or a column default, filled in
 * here through the same row mapping as every read (test/postgres-store.test.ts compares them with store.get()).
 * Saves the server formatting and the client parsing ~25 columns of every new row, input included.
 */
function filledIn(jobs: NewJob[], cols: { input: string[]; retry: string[]; delay: number[] }, rows: Row[]): EnqueueResult[] {
  if (rows.length !== jobs.length) throw new Error(`enqueue: ${rows.length} of ${jobs.length} jobs inserted without keys (internal error)`);
  // Identity values follow the ORDER BY of the INSERT: ids in id order are the jobs in input order.
  const sorted = rows.map((r) => ({ id: String(r.id), deadline: r.deadline_at, now: Number(r.created_at) })).sort((a, b) => compareIds(a.id, b.id));
  return jobs.map((j, i) => {
    const r = sorted[i]!;
    const row: Row = {
      id: r.id, task: j.task, state: 'queued', input: cols.input[i], result: null, error: null, attempts: 0,
      charged_attempts: 0, max_attempts: j.retry.maxAttempts, parent_id: j.parentId ?? null, child_key: j.childKey ?? null,
      idempotency_key: null, priority: j.priority ?? 0, run_at: r.now + cols.delay[i]!, created_at: r.now,
      updated_at: r.now, started_at: null, finished_at: null, deadline_at: r.deadline, progress: null,
      last_heartbeat_at: null, lease_owner: null, lease_expires_at: null, cancel_requested: false, wait_reason: null,
    };
    return { job: toJob(row), created: true };
  });
}

async function findByKeys(db: Db, jobs: NewJob[]): Promise<KeyIndex> {
  const S = db.s;
  const rows = await db.query(
    `SELECT ${jobColumns('j')} FROM ${S}.jobs j
       JOIN unnest($1::bigint[], $2::text[]) AS k(parent_id, child_key) ON j.parent_id = k.parent_id AND j.child_key = k.child_key
      WHERE j.parent_id IS NOT NULL AND j.child_key IS NOT NULL
     UNION ALL
     SELECT ${jobColumns('j')} FROM ${S}.jobs j WHERE j.idempotency_key = ANY($3::text[])`,
    [
      jobs.map((j) => j.parentId ?? null),
      jobs.map((j) => j.childKey ?? null),
      jobs.map((j) => j.idempotencyKey).filter((k): k is string => typeof k === 'string'),
    ],
  );
  const index = new KeyIndex();
  for (const r of rows) index.add(toJob(r));
  return index;
}

class KeyIndex {
  private readonly byChild = new Map<string, Job>();
  private readonly byIdem = new Map<string, Job>();
  add(job: Job): void {
    if (job.parentId !== null && job.childKey !== null) this.byChild.set(`${job.parentId}\u0000${job.childKey}`, job);
    if (job.idempotencyKey !== null) this.byIdem.set(job.idempotencyKey, job);
  }
  find(j: NewJob): Job | undefined {
    // The idempotency key wins over the child key, as in the SQLite store.
    const hit = j.idempotencyKey != null ? this.byIdem.get(j.idempotencyKey) : undefined;
    if (hit || !j.parentId || j.childKey == null) return hit;
    return this.byChild.get(`${j.parentId}\u0000${j.childKey}`);
  }
}

function sameKeys(job: Job, j: NewJob): boolean {
  return (
    job.task === j.task &&
    job.parentId === (j.parentId ?? null) &&
    job.childKey === (j.childKey ?? null) &&
    job.idempotencyKey === (j.idempotencyKey ?? null)
  );
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
