/** The worker row and every task it serves, in one statement; the latest announcement of a task wins. */
export async function registerWorker(db, info) {
    const S = db.s;
    // One row per name, or ON CONFLICT DO UPDATE would touch the same row twice and fail.
    const tasks = new Map(info.tasks.map((t) => [t.name, JSON.stringify(t.options ?? null)]));
    await db.query(`WITH c AS (SELECT ${S}.now_ms() AS now),
     w AS (
       INSERT INTO ${S}.workers (worker_id, hostname, pid, concurrency, started_at, last_seen_at, stats)
       SELECT $1, $2, $3, $4, c.now, c.now, 'null' FROM c
       ON CONFLICT (worker_id) DO UPDATE
         SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency,
             last_seen_at = EXCLUDED.last_seen_at
     )
     INSERT INTO ${S}.tasks (name, options, updated_at)
     SELECT t.name, t.options, c.now FROM unnest($5::text[], $6::text[]) AS t(name, options) CROSS JOIN c
     ON CONFLICT (name) DO UPDATE SET options = EXCLUDED.options, updated_at = EXCLUDED.updated_at`, [info.workerId, info.hostname, info.pid, info.concurrency, [...tasks.keys()], [...tasks.values()]]);
}
export async function workerHeartbeat(db, workerId, stats) {
    await db.query(`UPDATE ${db.s}.workers SET last_seen_at = ${db.s}.now_ms(), stats = $2 WHERE worker_id = $1`, [
        workerId,
        JSON.stringify(stats ?? null),
    ]);
}
export async function unregisterWorker(db, workerId) {
    await db.query(`DELETE FROM ${db.s}.workers WHERE worker_id = $1`, [workerId]);
}
export async function listWorkers(db) {
    const rows = await db.read(`SELECT * FROM ${db.s}.workers ORDER BY started_at, worker_id`);
    return rows.map((r) => ({
        workerId: String(r.worker_id),
        hostname: String(r.hostname),
        pid: Number(r.pid),
        concurrency: Number(r.concurrency),
        startedAt: Number(r.started_at),
        lastSeenAt: Number(r.last_seen_at),
        stats: JSON.parse(String(r.stats)),
    }));
}
export async function knownTasks(db) {
    const rows = await db.read(`SELECT * FROM ${db.s}.tasks ORDER BY name`);
    return rows.map((r) => ({
        name: String(r.name),
        options: JSON.parse(String(r.options)),
        updatedAt: Number(r.updated_at),
    }));
}
//# sourceMappingURL=workers.js.map