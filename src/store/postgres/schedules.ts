import type { Job, Json } from '../../types.js';
import type { ScheduleFire, ScheduleState, ScheduleUpsert } from '../contract.js';
import { parseJson } from '../rows.js';
import type { Db, Row } from './db.js';
import { enqueue } from './enqueue.js';

type Q = <R extends Row = Row>(sql: string, params?: unknown[]) => Promise<R[]>;

/** A Db whose every query runs on one transaction's connection (to reuse single-statement operations inside it). */
export function inTx(db: Db, q: Q): Db {
  return {
    s: db.s,
    query: q,
    read: q,
    tx: () => Promise.reject(new Error('nested transaction')),
  };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toState(r: Row): ScheduleState {
  return {
    name: String(r.name),
    task: String(r.task),
    spec: parseJson<Json>(r.spec as string),
    lastTickAt: Number(r.last_tick_at),
    lastJobId: r.last_job_id === null ? null : String(r.last_job_id),
    lastFiredAt: num(r.last_fired_at),
    nextTickAt: num(r.next_tick_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export async function syncSchedules(db: Db, list: ScheduleUpsert[]): Promise<ScheduleState[]> {
  const S = db.s;
  if (list.length > 0) {
    await db.query(
      `INSERT INTO ${S}.schedules AS s (name, task, spec, last_tick_at, next_tick_at, created_at, updated_at)
       SELECT n, t, sp, l, nx, ${S}.now_ms(), ${S}.now_ms() FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u(n, t, sp, l, nx)
       ON CONFLICT (name) DO UPDATE SET task = excluded.task, spec = excluded.spec, updated_at = excluded.updated_at
         WHERE s.task <> excluded.task OR s.spec <> excluded.spec`,
      [list.map((s) => s.name), list.map((s) => s.task), list.map((s) => JSON.stringify(s.spec)), list.map((s) => s.lastTickAt), list.map((s) => s.nextTickAt)],
    );
  }
  return listSchedules(db);
}

export async function listSchedules(db: Db): Promise<ScheduleState[]> {
  return (await db.read(`SELECT * FROM ${db.s}.schedules ORDER BY name`)).map(toState);
}

/** Compare-and-set of the last tick and the enqueue of its jobs, in one transaction. */
export async function fireSchedule(db: Db, fire: ScheduleFire): Promise<{ fired: boolean; jobs: Job[] }> {
  const S = db.s;
  return db.tx(async (q) => {
    const moved = await q(
      `UPDATE ${S}.schedules SET last_tick_at = $2, next_tick_at = $3, updated_at = ${S}.now_ms()
        WHERE name = $1 AND last_tick_at = $4 RETURNING name`,
      [fire.name, fire.lastTickAt, fire.nextTickAt, fire.expectedLastTickAt],
    );
    if (moved.length !== 1) return { fired: false, jobs: [] };
    if (fire.jobs.length === 0) return { fired: true, jobs: [] };
    const jobs = (await enqueue(inTx(db, q), fire.jobs)).map((r) => r.job);
    await q(`UPDATE ${S}.schedules SET last_job_id = $2, last_fired_at = ${S}.now_ms() WHERE name = $1`, [fire.name, jobs[jobs.length - 1]!.id]);
    return { fired: true, jobs };
  });
}

export function pauseReason(task: string, reason: string): string {
  return `task ${task} is paused: ${reason}`;
}

/** See the SQLite twin: the pause, and its due queued jobs moved to its end, so idle workers sleep. */
export async function pauseTask(db: Db, task: string, forMs: number, reason: string): Promise<void> {
  const S = db.s;
  await db.query(
    `WITH p AS (
       INSERT INTO ${S}.task_pauses AS t (task, until, reason) VALUES ($1, ${S}.now_ms() + $2::bigint, $3)
       ON CONFLICT (task) DO UPDATE SET until = excluded.until, reason = excluded.reason WHERE excluded.until > t.until
       RETURNING until)
     UPDATE ${S}.jobs SET run_at = p.until, wait_reason = $4 FROM p
      WHERE state = 'queued' AND task = $1 AND run_at < p.until`,
    [task, Math.max(0, Math.round(forMs)), reason, pauseReason(task, reason)],
  );
}

export async function flowState(db: Db): Promise<{ pauses: Array<{ task: string; until: number; reason: string }> }> {
  const rows = await db.read(`SELECT task, until, reason FROM ${db.s}.task_pauses WHERE until > ${db.s}.now_ms() ORDER BY task`);
  return { pauses: rows.map((r) => ({ task: String(r.task), until: Number(r.until), reason: String(r.reason) })) };
}
