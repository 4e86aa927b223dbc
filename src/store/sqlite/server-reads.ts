import type { JobState } from '../../types.js';
import type { JobDetail, JobEvent, StatsOptions, StoreStats } from '../contract.js';
import { isJobId, rowToJob, type JobRow } from '../rows.js';
import * as attempts from './attempts.js';
import type { Db } from './connection.js';
import * as jobs from './jobs.js';
import { stmt } from './statements.js';

/** Reads the job server needs (src/server). Each is one read transaction: one snapshot, one moment. */

export function jobDetail(db: Db, jobId: string): JobDetail | null {
  if (!isJobId(jobId)) return null;
  // A deferred transaction pins one WAL snapshot for all three reads.
  return db.transaction((): JobDetail | null => {
    const row = jobs.get(db, jobId);
    if (!row) return null;
    return { job: rowToJob(row), attempts: attempts.attempts(db, jobId), children: jobs.children(db, jobId).map(rowToJob) };
  })();
}


function zeroCounts(): Record<JobState, number> {
  return { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
}

export function stats(db: Db, options: StatsOptions, now: number): StoreStats {
  const bucketMs = Math.max(1000, Math.floor(options.bucketMs));
  const count = Math.max(1, Math.ceil(options.windowMs / bucketMs));
  // Buckets end at the next bucket boundary after now, so they stay aligned between calls.
  const end = (Math.floor(now / bucketMs) + 1) * bucketMs;
  const start = end - count * bucketMs;
  return db.transaction((): StoreStats => {
    const byState = zeroCounts();
    const perTask = new Map<string, Record<JobState, number>>();
    const rows = stmt(db, 'SELECT task, state, COUNT(*) AS n FROM jobs GROUP BY task, state').all() as Array<{ task: string; state: JobState; n: number }>;
    for (const r of rows) {
      byState[r.state] += r.n;
      let t = perTask.get(r.task);
      if (!t) perTask.set(r.task, (t = zeroCounts()));
      t[r.state] = r.n;
    }
    // The earliest run_at of each task with queued jobs (a skip over tasks, then over each one's priorities): the
    // queue's earliest is the oldest runnable job when it is due, and there is none when it is not.
    const first = { t: jobs.nextRunAt(db, jobs.queuedTasks(db)) };
    const oldest = { t: first.t !== null && first.t <= now ? first.t : null };
    const buckets = Array.from({ length: count }, (_, i) => ({ start: start + i * bucketMs, succeeded: 0, failed: 0, cancelled: 0 }));
    const finished = stmt(
      db,
      `SELECT CAST((finished_at - @start) / @bucketMs AS INTEGER) AS b, state, COUNT(*) AS n FROM jobs
        WHERE finished_at >= @start AND finished_at < @end AND state IN ('succeeded', 'failed', 'cancelled') GROUP BY b, state`,
    ).all({ start, end, bucketMs }) as Array<{ b: number; state: 'succeeded' | 'failed' | 'cancelled'; n: number }>;
    for (const f of finished) {
      const bucket = buckets[f.b];
      if (bucket) bucket[f.state] += f.n;
    }
    return {
      now,
      byState,
      byTask: [...perTask.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([task, c]) => ({ task, ...c })),
      oldestQueuedAt: oldest.t ?? null,
      buckets,
    };
  })();
}

export function queueDepth(db: Db, task: string): { total: number; task: number } {
  // Both counts from the queued-only claim index alone: through jobs_state_id SQLite read every queued row for its
  // task (70 µs at 200 queued jobs, and growing with the queue).
  const r = stmt(
    db,
    `SELECT (SELECT COUNT(*) FROM jobs INDEXED BY jobs_claim WHERE state = 'queued') AS total,
            (SELECT COUNT(*) FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task = ?) AS t`,
  ).get(task) as { total: number; t: number };
  return { total: r.total, task: r.t };
}

interface EventRow {
  seq: number;
  job_id: number;
  task: string;
  state: JobState;
  parent_id: number | null;
  attempt: number;
  cancel_requested: number;
  at: number;
}

export function eventsAfter(db: Db, afterSeq: number, limit: number): JobEvent[] {
  const rows = stmt(db, 'SELECT * FROM job_events WHERE seq > ? ORDER BY seq LIMIT ?').all(Math.floor(afterSeq), Math.max(0, Math.floor(limit))) as EventRow[];
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    jobId: String(r.job_id),
    task: r.task,
    state: r.state,
    parentId: r.parent_id === null ? null : String(r.parent_id),
    attempt: r.attempt,
    cancelRequested: r.cancel_requested !== 0,
  }));
}

export function lastEventSeq(db: Db): number {
  const r = stmt(db, 'SELECT MAX(seq) AS s FROM job_events').get() as { s: number | null };
  return r.s ?? 0;
}

