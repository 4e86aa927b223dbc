import type { JobState } from '../../types.js';
import type { JobDetail, JobEvent, StatsOptions, StoreStats } from '../contract.js';
import type { Db } from './db.js';
import { jobColumns, toAttempt, toJob, validIds } from './rows.js';

/** Reads the job server needs (src/server). Multi-query reads run in one REPEATABLE READ snapshot. */

export async function jobDetail(db: Db, jobId: string): Promise<JobDetail | null> {
  if (validIds([jobId]).length === 0) return null;
  return db.tx(async (q) => {
    // First statement of the transaction: all three reads then see one snapshot.
    await q('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const rows = await q(`SELECT ${jobColumns()} FROM ${db.s}.jobs WHERE id = $1::bigint`, [jobId]);
    if (!rows[0]) return null;
    const attempts = await q(`SELECT * FROM ${db.s}.attempts WHERE job_id = $1::bigint ORDER BY attempt`, [jobId]);
    const children = await q(`SELECT ${jobColumns()} FROM ${db.s}.jobs WHERE parent_id = $1::bigint ORDER BY id`, [jobId]);
    return { job: toJob(rows[0]), attempts: attempts.map(toAttempt), children: children.map(toJob) };
  });
}

function zeroCounts(): Record<JobState, number> {
  return { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
}

export async function stats(db: Db, options: StatsOptions): Promise<StoreStats> {
  const bucketMs = Math.max(1000, Math.floor(options.bucketMs));
  const count = Math.max(1, Math.ceil(options.windowMs / bucketMs));
  return db.tx(async (q) => {
    await q('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const now = Number((await q<{ now: string }>(`SELECT ${db.s}.now_ms() AS now`))[0]!.now);
    const end = (Math.floor(now / bucketMs) + 1) * bucketMs;
    const start = end - count * bucketMs;
    const byState = zeroCounts();
    const perTask = new Map<string, Record<JobState, number>>();
    for (const r of await q<{ task: string; state: JobState; n: string }>(`SELECT task, state, count(*) AS n FROM ${db.s}.jobs GROUP BY task, state`)) {
      const n = Number(r.n);
      byState[r.state] += n;
      let t = perTask.get(r.task);
      if (!t) perTask.set(r.task, (t = zeroCounts()));
      t[r.state] = n;
    }
    const oldest = await q<{ t: string | null }>(`SELECT min(run_at) AS t FROM ${db.s}.jobs WHERE state = 'queued' AND run_at <= $1`, [now]);
    const buckets = Array.from({ length: count }, (_, i) => ({ start: start + i * bucketMs, succeeded: 0, failed: 0, cancelled: 0 }));
    const finished = await q<{ b: string; state: 'succeeded' | 'failed' | 'cancelled'; n: string }>(
      `SELECT (finished_at - $1) / $3 AS b, state, count(*) AS n FROM ${db.s}.jobs
        WHERE finished_at >= $1 AND finished_at < $2 AND state IN ('succeeded', 'failed', 'cancelled') GROUP BY 1, 2`,
      [start, end, bucketMs],
    );
    for (const f of finished) {
      const bucket = buckets[Number(f.b)];
      if (bucket) bucket[f.state] += Number(f.n);
    }
    return {
      now,
      byState,
      byTask: [...perTask.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([task, c]) => ({ task, ...c })),
      oldestQueuedAt: oldest[0]?.t == null ? null : Number(oldest[0].t),
      buckets,
    };
  });
}

export async function queueDepth(db: Db, task: string): Promise<{ total: number; task: number }> {
  const rows = await db.read<{ total: string; t: string }>(
    `SELECT count(*) AS total, count(*) FILTER (WHERE task = $1) AS t FROM ${db.s}.jobs WHERE state = 'queued'`,
    [task],
  );
  return { total: Number(rows[0]!.total), task: Number(rows[0]!.t) };
}

export async function eventsAfter(db: Db, afterSeq: number, limit: number): Promise<JobEvent[]> {
  const rows = await db.read(`SELECT * FROM ${db.s}.job_events WHERE seq > $1 ORDER BY seq LIMIT $2`, [
    Math.floor(afterSeq),
    Math.max(0, Math.floor(limit)),
  ]);
  return rows.map((r) => ({
    seq: Number(r.seq),
    at: Number(r.at),
    jobId: String(r.job_id),
    task: String(r.task),
    state: r.state as JobState,
    parentId: r.parent_id == null ? null : String(r.parent_id),
    attempt: Number(r.attempt),
    cancelRequested: r.cancel_requested === true,
  }));
}

export async function lastEventSeq(db: Db): Promise<number> {
  const rows = await db.read<{ s: string | null }>(`SELECT max(seq) AS s FROM ${db.s}.job_events`);
  return rows[0]?.s == null ? 0 : Number(rows[0].s);
}
