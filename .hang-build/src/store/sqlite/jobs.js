import { UsageError } from '../../errors.js';
import { TERMINAL_STATES } from '../../types.js';
import { isJobId, rowToJob } from '../rows.js';
import { stmt } from './statements.js';
const INSERT_JOB = `INSERT INTO jobs (task, state, input, max_attempts, retry_policy, parent_id, child_key, idempotency_key,
    priority, run_at, created_at, updated_at, deadline_ms, deadline_at)
  VALUES (@task, 'queued', @input, @maxAttempts, @retry, @parentId, @childKey, @idempotencyKey,
    @priority, @runAt, @now, @now, @deadlineMs, @deadlineAt)
  RETURNING *`;
/** Inserts a batch in order; called inside one transaction. Existing (parent, key) or idempotency keys are returned. */
export function enqueue(db, jobs, now) {
    const byKey = stmt(db, 'SELECT * FROM jobs WHERE idempotency_key = ?');
    const byChild = stmt(db, 'SELECT * FROM jobs WHERE parent_id = ? AND child_key = ?');
    const insert = stmt(db, INSERT_JOB);
    const out = [];
    const tasks = new Set();
    for (const [i, j] of jobs.entries()) {
        checkNewJob(j, i);
        const parentId = j.parentId ?? null;
        const childKey = j.childKey ?? null;
        const idempotencyKey = j.idempotencyKey ?? null;
        let existing = idempotencyKey !== null ? byKey.get(idempotencyKey) : undefined;
        if (!existing && parentId !== null && childKey !== null)
            existing = byChild.get(Number(parentId), childKey);
        if (existing) {
            out.push({ job: rowToJob(existing), created: false });
            continue;
        }
        const deadlineMs = j.deadlineMs ?? null;
        const row = insert.get({
            task: j.task,
            input: JSON.stringify(j.input ?? null),
            maxAttempts: j.retry.maxAttempts,
            retry: JSON.stringify(j.retry),
            parentId: parentId === null ? null : Number(parentId),
            childKey,
            idempotencyKey,
            priority: j.priority ?? 0,
            runAt: now + Math.max(0, j.delayMs ?? 0),
            now,
            deadlineMs,
            deadlineAt: deadlineMs === null ? null : now + deadlineMs,
        });
        out.push({ job: rowToJob(row), created: true });
        tasks.add(j.task);
    }
    return { value: out, events: tasks.size ? [{ type: 'enqueued', tasks: [...tasks] }] : [] };
}
function checkNewJob(j, i) {
    const bad = (what) => {
        throw new UsageError('VIGIL_INVALID_INPUT', `job #${i} of the batch: ${what}`);
    };
    if (typeof j.task !== 'string' || j.task === '')
        bad('"task" must be a non-empty string');
    if (!j.retry || !Number.isInteger(j.retry.maxAttempts) || j.retry.maxAttempts < 1)
        bad('"retry.maxAttempts" must be an integer ≥ 1');
    if (j.parentId != null && !isJobId(j.parentId))
        bad(`"parentId" ${JSON.stringify(j.parentId)} is not a job id`);
    if (j.priority !== undefined && !Number.isInteger(j.priority))
        bad('"priority" must be an integer');
    if (j.delayMs !== undefined && !Number.isFinite(j.delayMs))
        bad('"delayMs" must be a finite number');
    if (j.deadlineMs != null && !(Number.isFinite(j.deadlineMs) && j.deadlineMs > 0))
        bad('"deadlineMs" must be a positive number');
}
export function get(db, jobId) {
    if (!isJobId(jobId))
        return undefined;
    return stmt(db, 'SELECT * FROM jobs WHERE id = ?').get(Number(jobId));
}
/** In the order asked, missing ids omitted. */
export function getMany(db, jobIds) {
    const ids = jobIds.filter(isJobId).map(Number);
    if (ids.length === 0)
        return [];
    const rows = stmt(db, 'SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids));
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    const seen = new Set();
    const out = [];
    for (const id of ids) {
        const r = byId.get(id);
        if (r && !seen.has(id)) {
            seen.add(id);
            out.push(r);
        }
    }
    return out;
}
export const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;
/** Newest first. */
export function list(db, f) {
    const where = [];
    const params = {};
    if (f.state !== undefined) {
        where.push('state = @state');
        params.state = f.state;
    }
    if (f.task !== undefined) {
        where.push('task = @task');
        params.task = f.task;
    }
    if (f.parentId === null)
        where.push('parent_id IS NULL');
    else if (f.parentId !== undefined) {
        if (!isJobId(f.parentId))
            return [];
        where.push('parent_id = @parentId');
        params.parentId = Number(f.parentId);
    }
    if (f.beforeId !== undefined) {
        if (!isJobId(f.beforeId))
            return [];
        where.push('id < @beforeId');
        params.beforeId = Number(f.beforeId);
    }
    params.limit = Math.max(0, Math.min(MAX_LIST_LIMIT, Math.floor(f.limit ?? DEFAULT_LIST_LIMIT)));
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
    return stmt(db, sql).all(params);
}
export function children(db, parentId) {
    if (!isJobId(parentId))
        return [];
    return stmt(db, 'SELECT * FROM jobs WHERE parent_id = ? ORDER BY id').all(Number(parentId));
}
export function counts(db) {
    const out = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    const rows = stmt(db, 'SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all();
    for (const r of rows)
        out[r.state] = r.n;
    return out;
}
export function nextRunAt(db, tasks) {
    if (tasks.length === 0)
        return null;
    // Walks queued jobs in run_at order and stops at the first one of these tasks (not a MIN over the whole queue).
    const r = stmt(db, `SELECT run_at AS t FROM jobs INDEXED BY jobs_run_at WHERE state = 'queued' AND task IN (SELECT value FROM json_each(?))
     ORDER BY run_at LIMIT 1`).get(JSON.stringify(tasks));
    return r ? r.t : null;
}
export function finishedEvent(row) {
    return { type: 'finished', jobId: String(row.id), parentId: row.parent_id === null ? null : String(row.parent_id), state: row.state };
}
export function isTerminal(state) {
    return TERMINAL_STATES.includes(state);
}
//# sourceMappingURL=jobs.js.map