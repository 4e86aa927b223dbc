import type { Attempt, Job, JobState, LogLine } from '../../types.js';
import type { JobFilter } from '../contract.js';
import type { Db } from './db.js';
import { listLimit, logLimit, orderByIds } from '../requests.js';
import { jobColumns, toAttempt, toJob, toLogLine, validIds } from './rows.js';


export async function get(db: Db, jobId: string): Promise<Job | null> {
  if (validIds([jobId]).length === 0) return null;
  const rows = await db.read(`SELECT ${jobColumns()} FROM ${db.s}.jobs WHERE id = $1::bigint`, [jobId]);
  return rows[0] ? toJob(rows[0]) : null;
}

export async function getMany(db: Db, jobIds: string[]): Promise<Job[]> {
  const ids = validIds(jobIds);
  if (ids.length === 0) return [];
  const rows = await db.read(`SELECT ${jobColumns()} FROM ${db.s}.jobs WHERE id = ANY($1::bigint[])`, [ids]);
  return orderByIds(ids, rows.map(toJob));
}

/** Newest first. */
export async function list(db: Db, filter: JobFilter): Promise<Job[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (p: string) => string, value: unknown): void => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (filter.state) add((p) => `state = ${p}`, filter.state);
  if (filter.task) add((p) => `task = ${p}`, filter.task);
  if (filter.parentId === null) where.push('parent_id IS NULL');
  else if (filter.parentId !== undefined) {
    if (validIds([filter.parentId]).length === 0) return [];
    add((p) => `parent_id = ${p}::bigint`, filter.parentId);
  }
  if (filter.beforeId !== undefined) {
    if (validIds([filter.beforeId]).length === 0) return [];
    add((p) => `id < ${p}::bigint`, filter.beforeId);
  }
  const limit = listLimit(filter.limit);
  params.push(limit);
  const rows = await db.read(
    `SELECT ${jobColumns()} FROM ${db.s}.jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toJob);
}

export async function children(db: Db, parentId: string): Promise<Job[]> {
  if (validIds([parentId]).length === 0) return [];
  const rows = await db.read(
    `SELECT ${jobColumns()} FROM ${db.s}.jobs WHERE parent_id = $1::bigint ORDER BY id`,
    [parentId],
  );
  return rows.map(toJob);
}

export async function attempts(db: Db, jobId: string): Promise<Attempt[]> {
  if (validIds([jobId]).length === 0) return [];
  const rows = await db.read(`SELECT * FROM ${db.s}.attempts WHERE job_id = $1::bigint ORDER BY attempt`, [jobId]);
  return rows.map(toAttempt);
}

export async function logs(
  db: Db,
  jobId: string,
  options: { afterSeq?: number; limit?: number; attempt?: number; tail?: boolean } = {},
): Promise<LogLine[]> {
  if (validIds([jobId]).length === 0) return [];
  const params: unknown[] = [jobId, options.afterSeq ?? 0, logLimit(options.limit)];
  let attemptClause = '';
  if (options.attempt !== undefined) {
    params.push(options.attempt);
    attemptClause = 'AND attempt = $4';
  }
  const order = options.tail ? 'DESC' : 'ASC';
  const rows = await db.read(
    `SELECT * FROM ${db.s}.logs WHERE job_id = $1::bigint AND seq > $2 ${attemptClause} ORDER BY seq ${order} LIMIT $3`,
    params,
  );
  const lines = rows.map(toLogLine);
  return options.tail ? lines.reverse() : lines;
}

export async function counts(db: Db): Promise<Record<JobState, number>> {
  const out: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const rows = await db.read<{ state: JobState; n: string }>(`SELECT state, count(*) AS n FROM ${db.s}.jobs GROUP BY state`);
  for (const r of rows) out[r.state] = Number(r.n);
  return out;
}

export async function now(db: Db): Promise<number> {
  const rows = await db.read<{ now: string }>(`SELECT ${db.s}.now_ms() AS now`);
  return Number(rows[0]!.now);
}
