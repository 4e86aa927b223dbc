import type { Json } from '../../types.js';
import type { ProcessRootsRecord, TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
import type { Db, Row } from './db.js';

/** The worker row and every task it serves, in one statement; the latest announcement of a task wins. */
export async function registerWorker(db: Db, info: WorkerInfo): Promise<void> {
  const S = db.s;
  // One row per name, or ON CONFLICT DO UPDATE would touch the same row twice and fail.
  const tasks = new Map(info.tasks.map((t) => [t.name, JSON.stringify(t.options ?? null)]));
  await db.query(
    `WITH c AS (SELECT ${S}.now_ms() AS now),
     w AS (
       INSERT INTO ${S}.workers (worker_id, hostname, pid, concurrency, started_at, last_seen_at, stats, lease_ms, report_every_ms, tasks)
       SELECT $1, $2, $3, $4, c.now, c.now, 'null', $7, $8, $9 FROM c
       ON CONFLICT (worker_id) DO UPDATE
         SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency,
             last_seen_at = EXCLUDED.last_seen_at, lease_ms = EXCLUDED.lease_ms,
             report_every_ms = EXCLUDED.report_every_ms, tasks = EXCLUDED.tasks
     )
     INSERT INTO ${S}.tasks (name, options, updated_at)
     SELECT t.name, t.options, c.now FROM unnest($5::text[], $6::text[]) AS t(name, options) CROSS JOIN c
     ON CONFLICT (name) DO UPDATE SET options = EXCLUDED.options, updated_at = EXCLUDED.updated_at`,
    [
      info.workerId,
      info.hostname,
      info.pid,
      info.concurrency,
      [...tasks.keys()],
      [...tasks.values()],
      // Integer columns: a lease of 2 s reports every 666.7 ms.
      info.leaseMs == null ? null : Math.round(info.leaseMs),
      info.reportEveryMs == null ? null : Math.round(info.reportEveryMs),
      JSON.stringify([...tasks.keys()]),
    ],
  );
}

export async function workerHeartbeat(db: Db, workerId: string, stats: Json): Promise<void> {
  await db.query(`UPDATE ${db.s}.workers SET last_seen_at = ${db.s}.now_ms(), stats = $2 WHERE worker_id = $1`, [
    workerId,
    JSON.stringify(stats ?? null),
  ]);
}

export async function unregisterWorker(db: Db, workerId: string): Promise<void> {
  await db.query(`DELETE FROM ${db.s}.workers WHERE worker_id = $1`, [workerId]);
}

export async function listWorkers(db: Db): Promise<WorkerRecord[]> {
  const rows = await db.read(`SELECT * FROM ${db.s}.workers ORDER BY started_at, worker_id`);
  return rows.map(workerFromRow);
}

export function workerFromRow(r: Row): WorkerRecord {
  return {
    workerId: String(r.worker_id),
    hostname: String(r.hostname),
    pid: Number(r.pid),
    concurrency: Number(r.concurrency),
    startedAt: Number(r.started_at),
    lastSeenAt: Number(r.last_seen_at),
    stats: JSON.parse(String(r.stats)) as Json,
    leaseMs: r.lease_ms === null || r.lease_ms === undefined ? null : Number(r.lease_ms),
    reportEveryMs: r.report_every_ms === null || r.report_every_ms === undefined ? null : Number(r.report_every_ms),
    tasks: typeof r.tasks === 'string' ? (JSON.parse(r.tasks) as string[]) : [],
  };
}

export async function knownTasks(db: Db): Promise<TaskRecord[]> {
  const rows = await db.read(`SELECT * FROM ${db.s}.tasks ORDER BY name`);
  return rows.map((r) => ({
    name: String(r.name),
    options: JSON.parse(String(r.options)) as Json,
    updatedAt: Number(r.updated_at),
  }));
}

export async function saveProcessRoots(db: Db, r: ProcessRootsRecord): Promise<void> {
  if (r.roots.length === 0) {
    await db.query(`DELETE FROM ${db.s}.process_roots WHERE worker_id = $1`, [r.workerId]);
    return;
  }
  await db.query(
    `INSERT INTO ${db.s}.process_roots (worker_id, host, boot_id, owner_pid, owner_start, roots, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, ${db.s}.now_ms())
     ON CONFLICT (worker_id) DO UPDATE SET host = EXCLUDED.host, boot_id = EXCLUDED.boot_id, owner_pid = EXCLUDED.owner_pid,
       owner_start = EXCLUDED.owner_start, roots = EXCLUDED.roots, updated_at = EXCLUDED.updated_at`,
    [r.workerId, r.host, r.bootId, r.ownerPid, r.ownerStart, JSON.stringify(r.roots)],
  );
}

export async function listProcessRoots(db: Db, host: string): Promise<ProcessRootsRecord[]> {
  const rows = await db.read(`SELECT * FROM ${db.s}.process_roots WHERE host = $1 ORDER BY worker_id`, [host]);
  return rows.map((r) => ({
    workerId: String(r.worker_id),
    host: String(r.host),
    bootId: String(r.boot_id),
    ownerPid: Number(r.owner_pid),
    ownerStart: Number(r.owner_start),
    roots: JSON.parse(String(r.roots)) as ProcessRootsRecord['roots'],
  }));
}
