import type { Json } from '../../types.js';
import type { TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
import type { Db } from './db.js';

/** The worker row and every task it serves, in one statement; the latest announcement of a task wins. */
export async function registerWorker(db: Db, info: WorkerInfo): Promise<void> {
  const S = db.s;
  // One row per name, or ON CONFLICT DO UPDATE would touch the same row twice and fail.
  const tasks = new Map(info.tasks.map((t) => [t.name, JSON.stringify(t.options ?? null)]));
  await db.query(
    `WITH c AS (SELECT ${S}.now_ms() AS now),
     w AS (
       INSERT INTO ${S}.workers (worker_id, hostname, pid, concurrency, started_at, last_seen_at, stats)
       SELECT $1, $2, $3, $4, c.now, c.now, $7 FROM c
       ON CONFLICT (worker_id) DO UPDATE
         SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency,
             last_seen_at = EXCLUDED.last_seen_at, stats = EXCLUDED.stats
     )
     INSERT INTO ${S}.tasks (name, options, updated_at)
     SELECT t.name, t.options, c.now FROM unnest($5::text[], $6::text[]) AS t(name, options) CROSS JOIN c
     ON CONFLICT (name) DO UPDATE SET options = EXCLUDED.options, updated_at = EXCLUDED.updated_at`,
    [info.workerId, info.hostname, info.pid, info.concurrency, [...tasks.keys()], [...tasks.values()], JSON.stringify({ tasks: [...tasks.keys()] })],
  );
}

export async function workerHeartbeat(db: Db, workerId: string, stats: Json): Promise<void> {
  // The served task names live in the stats document (PostgreSQL has no column for them): a heartbeat keeps them.
  await db.query(
    `UPDATE ${db.s}.workers SET last_seen_at = ${db.s}.now_ms(),
       stats = CASE WHEN jsonb_typeof($2::jsonb) = 'object' AND (stats::jsonb -> 'tasks') IS NOT NULL
                    THEN ($2::jsonb || jsonb_build_object('tasks', stats::jsonb -> 'tasks'))::text ELSE $2::text END
     WHERE worker_id = $1`,
    [
    workerId,
    JSON.stringify(stats ?? null),
  ]);
}

export async function unregisterWorker(db: Db, workerId: string): Promise<void> {
  await db.query(`DELETE FROM ${db.s}.workers WHERE worker_id = $1`, [workerId]);
}

export async function listWorkers(db: Db): Promise<WorkerRecord[]> {
  const rows = await db.read(`SELECT * FROM ${db.s}.workers ORDER BY started_at, worker_id`);
  return rows.map((r) => ({
    workerId: String(r.worker_id),
    hostname: String(r.hostname),
    pid: Number(r.pid),
    concurrency: Number(r.concurrency),
    startedAt: Number(r.started_at),
    lastSeenAt: Number(r.last_seen_at),
    ...splitStats(JSON.parse(String(r.stats)) as Json),
  }));
}

export async function knownTasks(db: Db): Promise<TaskRecord[]> {
  const rows = await db.read(`SELECT * FROM ${db.s}.tasks ORDER BY name`);
  return rows.map((r) => ({
    name: String(r.name),
    options: JSON.parse(String(r.options)) as Json,
    updatedAt: Number(r.updated_at),
  }));
}

/** The stats document as the worker wrote it, and the served task names registerWorker keeps in it. */
function splitStats(doc: Json): { stats: Json; tasks?: string[] } {
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && Array.isArray(doc.tasks)) {
    const { tasks, ...stats } = doc;
    const names = (tasks as Json[]).filter((t): t is string => typeof t === 'string');
    return { stats: Object.keys(stats).length === 0 ? null : stats, tasks: names };
  }
  return { stats: doc };
}
