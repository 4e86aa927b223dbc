import type { Job, Json } from '../../types.js';
import type { ScheduleFire, ScheduleState, ScheduleUpsert } from '../contract.js';
import { parseJson } from '../rows.js';
import type { Db } from './connection.js';
import { enqueue, type OpResult } from './jobs.js';
import { stmt } from './statements.js';

interface ScheduleRow {
  name: string;
  task: string;
  spec: string;
  last_tick_at: number;
  last_job_id: number | null;
  last_fired_at: number | null;
  next_tick_at: number | null;
  created_at: number;
  updated_at: number;
}

function toState(r: ScheduleRow): ScheduleState {
  return {
    name: r.name,
    task: r.task,
    spec: parseJson<Json>(r.spec),
    lastTickAt: r.last_tick_at,
    lastJobId: r.last_job_id === null ? null : String(r.last_job_id),
    lastFiredAt: r.last_fired_at,
    nextTickAt: r.next_tick_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** A new schedule starts at its upsert's lastTickAt (the caller's now); an existing one keeps its ticks. */
export function syncSchedules(db: Db, schedules: ScheduleUpsert[], now: number): ScheduleState[] {
  const upsert = stmt(
    db,
    `INSERT INTO schedules (name, task, spec, last_tick_at, next_tick_at, created_at, updated_at)
     VALUES (@name, @task, @spec, @lastTickAt, @nextTickAt, @now, @now)
     ON CONFLICT (name) DO UPDATE SET task = excluded.task, spec = excluded.spec, updated_at = excluded.updated_at
       WHERE schedules.task <> excluded.task OR schedules.spec <> excluded.spec`,
  );
  for (const s of schedules) {
    upsert.run({ name: s.name, task: s.task, spec: JSON.stringify(s.spec), lastTickAt: s.lastTickAt, nextTickAt: s.nextTickAt, now });
  }
  return listSchedules(db);
}

export function listSchedules(db: Db): ScheduleState[] {
  return (stmt(db, 'SELECT * FROM schedules ORDER BY name').all() as ScheduleRow[]).map(toState);
}

/** The compare-and-set and the enqueue of the tick jobs are one transaction: a tick is enqueued once or not at all. */
export function fireSchedule(db: Db, fire: ScheduleFire, now: number): OpResult<{ fired: boolean; jobs: Job[] }> {
  const moved = stmt(
    db,
    `UPDATE schedules SET last_tick_at = @lastTickAt, next_tick_at = @nextTickAt, updated_at = @now
     WHERE name = @name AND last_tick_at = @expected`,
  ).run({ name: fire.name, lastTickAt: fire.lastTickAt, nextTickAt: fire.nextTickAt, expected: fire.expectedLastTickAt, now });
  if (moved.changes !== 1) return { value: { fired: false, jobs: [] }, events: [] };
  if (fire.jobs.length === 0) return { value: { fired: true, jobs: [] }, events: [] };
  const { value, events } = enqueue(db, fire.jobs, now);
  const jobs = value.map((r) => r.job);
  const last = jobs[jobs.length - 1]!;
  stmt(db, 'UPDATE schedules SET last_job_id = ?, last_fired_at = ? WHERE name = ?').run(Number(last.id), now, fire.name);
  return { value: { fired: true, jobs }, events };
}

/**
 * Pauses a task until now + forMs (a longer existing pause wins). Its queued jobs that would run before then are
 * moved to then, so idle workers sleep instead of polling a queue they may not claim from.
 */
export function pauseTask(db: Db, task: string, forMs: number, reason: string, now: number): void {
  const until = now + Math.max(0, forMs);
  stmt(
    db,
    `INSERT INTO task_pauses (task, until, reason) VALUES (?, ?, ?)
     ON CONFLICT (task) DO UPDATE SET until = excluded.until, reason = excluded.reason WHERE excluded.until > task_pauses.until`,
  ).run(task, until, reason);
  stmt(db, `UPDATE jobs SET run_at = ?, wait_reason = ? WHERE state = 'queued' AND task = ? AND run_at < ?`).run(until, pauseReason(task, reason), task, until);
}

export function pauseReason(task: string, reason: string): string {
  return `task ${task} is paused: ${reason}`;
}

export function flowState(db: Db, now: number): { pauses: Array<{ task: string; until: number; reason: string }> } {
  return { pauses: stmt(db, 'SELECT task, until, reason FROM task_pauses WHERE until > ? ORDER BY task').all(now) as Array<{ task: string; until: number; reason: string }> };
}
