import type { Json } from '../../types.js';
import type { ProcessRootsRecord, TaskRecord, WorkerInfo, WorkerRecord } from '../contract.js';
import { parseJson } from '../rows.js';
import type { Db } from './connection.js';
import { stmt } from './statements.js';

export function registerWorker(db: Db, info: WorkerInfo, now: number): void {
  stmt(
    db,
    `INSERT INTO workers (worker_id, hostname, pid, concurrency, tasks, started_at, last_seen_at, stats, lease_ms, report_every_ms)
     VALUES (@workerId, @hostname, @pid, @concurrency, @tasks, @now, @now, 'null', @leaseMs, @reportEveryMs)
     ON CONFLICT (worker_id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid,
       concurrency = excluded.concurrency, tasks = excluded.tasks, last_seen_at = excluded.last_seen_at,
       lease_ms = excluded.lease_ms, report_every_ms = excluded.report_every_ms`,
  ).run({
    workerId: info.workerId,
    hostname: info.hostname,
    pid: info.pid,
    concurrency: info.concurrency,
    tasks: JSON.stringify(info.tasks.map((t) => t.name)),
    now,
    leaseMs: info.leaseMs ?? null,
    reportEveryMs: info.reportEveryMs ?? null,
  });
  const task = stmt(
    db,
    `INSERT INTO tasks (name, options, worker_id, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET options = excluded.options, worker_id = excluded.worker_id, updated_at = excluded.updated_at`,
  );
  for (const t of info.tasks) task.run(t.name, JSON.stringify(t.options ?? null), info.workerId, now);
}

export function workerHeartbeat(db: Db, workerId: string, stats: Json, now: number): void {
  stmt(db, 'UPDATE workers SET last_seen_at = ?, stats = ? WHERE worker_id = ?').run(now, JSON.stringify(stats ?? null), workerId);
}

export function unregisterWorker(db: Db, workerId: string): void {
  stmt(db, 'DELETE FROM workers WHERE worker_id = ?').run(workerId);
}

interface WorkerRow {
  worker_id: string;
  hostname: string;
  pid: number;
  concurrency: number;
  started_at: number;
  last_seen_at: number;
  stats: string;
  tasks: string;
  lease_ms: number | null;
  report_every_ms: number | null;
}

export function listWorkers(db: Db): WorkerRecord[] {
  const rows = stmt(db, 'SELECT * FROM workers ORDER BY started_at, worker_id').all() as WorkerRow[];
  return rows.map((r) => ({
    workerId: r.worker_id,
    hostname: r.hostname,
    pid: r.pid,
    concurrency: r.concurrency,
    startedAt: r.started_at,
    lastSeenAt: r.last_seen_at,
    stats: parseJson<Json>(r.stats),
    leaseMs: r.lease_ms,
    reportEveryMs: r.report_every_ms,
    tasks: parseJson<string[]>(r.tasks) ?? [],
  }));
}

export function knownTasks(db: Db): TaskRecord[] {
  const rows = stmt(db, 'SELECT name, options, updated_at FROM tasks ORDER BY name').all() as Array<{ name: string; options: string; updated_at: number }>;
  return rows.map((r) => ({ name: r.name, options: parseJson<Json>(r.options), updated_at: r.updated_at })).map((r) => ({
    name: r.name,
    options: r.options,
    updatedAt: r.updated_at,
  }));
}

export function saveProcessRoots(db: Db, r: ProcessRootsRecord, now: number): void {
  if (r.roots.length === 0) {
    stmt(db, 'DELETE FROM process_roots WHERE worker_id = ?').run(r.workerId);
    return;
  }
  stmt(
    db,
    `INSERT INTO process_roots (worker_id, host, boot_id, owner_pid, owner_start, roots, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host, boot_id = excluded.boot_id, owner_pid = excluded.owner_pid,
       owner_start = excluded.owner_start, roots = excluded.roots, updated_at = excluded.updated_at`,
  ).run(r.workerId, r.host, r.bootId, r.ownerPid, r.ownerStart, JSON.stringify(r.roots), now);
}

interface ProcessRootsRow {
  worker_id: string;
  host: string;
  boot_id: string;
  owner_pid: number;
  owner_start: number;
  roots: string;
}

export function listProcessRoots(db: Db, host: string): ProcessRootsRecord[] {
  const rows = stmt(db, 'SELECT * FROM process_roots WHERE host = ? ORDER BY worker_id').all(host) as ProcessRootsRow[];
  return rows.map((r) => ({ workerId: r.worker_id, host: r.host, bootId: r.boot_id, ownerPid: r.owner_pid, ownerStart: r.owner_start, roots: parseJson(r.roots) ?? [] }));
}
