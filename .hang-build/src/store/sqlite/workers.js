import { parseJson } from '../rows.js';
import { stmt } from './statements.js';
export function registerWorker(db, info, now) {
    stmt(db, `INSERT INTO workers (worker_id, hostname, pid, concurrency, tasks, started_at, last_seen_at, stats)
     VALUES (@workerId, @hostname, @pid, @concurrency, @tasks, @now, @now, 'null')
     ON CONFLICT (worker_id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid,
       concurrency = excluded.concurrency, tasks = excluded.tasks, last_seen_at = excluded.last_seen_at`).run({ ...info, tasks: JSON.stringify(info.tasks.map((t) => t.name)), now });
    const task = stmt(db, `INSERT INTO tasks (name, options, worker_id, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET options = excluded.options, worker_id = excluded.worker_id, updated_at = excluded.updated_at`);
    for (const t of info.tasks)
        task.run(t.name, JSON.stringify(t.options ?? null), info.workerId, now);
}
export function workerHeartbeat(db, workerId, stats, now) {
    stmt(db, 'UPDATE workers SET last_seen_at = ?, stats = ? WHERE worker_id = ?').run(now, JSON.stringify(stats ?? null), workerId);
}
export function unregisterWorker(db, workerId) {
    stmt(db, 'DELETE FROM workers WHERE worker_id = ?').run(workerId);
}
export function listWorkers(db) {
    const rows = stmt(db, 'SELECT * FROM workers ORDER BY started_at, worker_id').all();
    return rows.map((r) => ({
        workerId: r.worker_id,
        hostname: r.hostname,
        pid: r.pid,
        concurrency: r.concurrency,
        startedAt: r.started_at,
        lastSeenAt: r.last_seen_at,
        stats: parseJson(r.stats),
    }));
}
export function knownTasks(db) {
    const rows = stmt(db, 'SELECT name, options, updated_at FROM tasks ORDER BY name').all();
    return rows.map((r) => ({ name: r.name, options: parseJson(r.options), updated_at: r.updated_at })).map((r) => ({
        name: r.name,
        options: r.options,
        updatedAt: r.updated_at,
    }));
}
//# sourceMappingURL=workers.js.map