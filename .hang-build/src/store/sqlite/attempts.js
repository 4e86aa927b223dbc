import { retryDelayMs } from '../../task/retry.js';
import { cancelledError, deadlineError, isJobId, leaseLostError, parseJson, rowToAttempt } from '../rows.js';
import { finishedEvent } from './jobs.js';
import { FENCED, fenceArgs, stmt } from './statements.js';
const END_ATTEMPT = `UPDATE attempts SET finished_at = @now, outcome = @outcome, charged = @charged, error = @error,
    hang_report = @hangReport WHERE job_id = @jobId AND attempt = @attempt AND finished_at IS NULL`;
// Every way out of `running` clears the lease, so nothing can renew or fence against it afterwards.
const TO_TERMINAL = `UPDATE jobs SET state = @state, result = @result, error = @error, charged_attempts = @charged,
    finished_at = @now, updated_at = @now, lease_owner = NULL, lease_expires_at = NULL WHERE id = @jobId RETURNING *`;
const TO_QUEUED = `UPDATE jobs SET state = 'queued', run_at = @runAt, error = @error, charged_attempts = @charged,
    updated_at = @now, lease_owner = NULL, lease_expires_at = NULL WHERE id = @jobId RETURNING *`;
/** Fenced end of an attempt (see Store.finishAttempt). Returns false, changing nothing, for a stale fence. */
export function finishAttempt(db, fence, finish, now) {
    const args = fenceArgs(fence, now);
    const row = stmt(db, `SELECT * FROM jobs WHERE ${FENCED}`).get(args);
    if (!row)
        return { value: false, events: [] };
    const jobId = args.jobId;
    const charged = finish.outcome === 'succeeded' || finish.charged;
    const chargedAttempts = row.charged_attempts + (charged ? 1 : 0);
    stmt(db, END_ATTEMPT).run({
        now,
        jobId,
        attempt: fence.attempt,
        outcome: finish.outcome,
        charged: charged ? 1 : 0,
        error: finish.outcome === 'succeeded' ? null : JSON.stringify(finish.error),
        hangReport: finish.outcome === 'succeeded' || !finish.hangReport ? null : JSON.stringify(finish.hangReport),
    });
    let after;
    if (finish.outcome === 'succeeded') {
        after = terminal(db, jobId, 'succeeded', null, finish.result, chargedAttempts, now);
    }
    else if (finish.retryInMs === null) {
        after = terminal(db, jobId, finish.outcome === 'cancelled' ? 'cancelled' : 'failed', finish.error, null, chargedAttempts, now);
    }
    else if (row.cancel_requested) {
        // Someone cancelled the job while this attempt was failing on its own: honour the cancel, do not re-queue.
        after = terminal(db, jobId, 'cancelled', cancelledError(row.cancel_reason ?? 'cancelled'), null, chargedAttempts, now);
    }
    else {
        after = requeue(db, row, finish.error, chargedAttempts, now + Math.max(0, finish.retryInMs), now);
    }
    return { value: true, events: [afterEvent(after)] };
}
function terminal(db, jobId, state, error, result, charged, now) {
    return stmt(db, TO_TERMINAL).get({
        jobId,
        state,
        error: error ? JSON.stringify(error) : null,
        result: state === 'succeeded' ? JSON.stringify(result ?? null) : null,
        charged,
        now,
    });
}
/** Back to the queue at runAt, unless the job's deadline passes first: then it fails with kind `deadline`. */
function requeue(db, row, error, charged, runAt, now) {
    const deadlineAt = row.deadline_at;
    if (deadlineAt !== null && runAt >= deadlineAt) {
        return terminal(db, Number(row.id), 'failed', deadlineError(deadlineAt, now, error), null, charged, now);
    }
    return stmt(db, TO_QUEUED).get({ jobId: Number(row.id), runAt, error: JSON.stringify(error), charged, now });
}
function afterEvent(row) {
    return row.state === 'queued' ? { type: 'enqueued', tasks: [row.task] } : finishedEvent(row);
}
/**
 * Attempts whose lease expired end `crashed` (charged); their jobs are re-queued after the delay of their own
 * stored retry policy, or failed when the budget is spent (or cancelled, when a cancel was pending).
 */
export function recoverExpired(db, now) {
    const rows = stmt(db, `SELECT * FROM jobs INDEXED BY jobs_lease WHERE state = 'running' AND lease_expires_at <= ?`).all(now);
    const out = [];
    const events = [];
    for (const row of rows) {
        const jobId = Number(row.id);
        const error = leaseLostError(row.lease_owner, row.lease_expires_at, now);
        stmt(db, END_ATTEMPT).run({ now, jobId, attempt: row.attempts, outcome: 'crashed', charged: 1, error: JSON.stringify(error), hangReport: null });
        const charged = row.charged_attempts + 1;
        let after;
        if (row.cancel_requested) {
            after = terminal(db, jobId, 'cancelled', cancelledError(row.cancel_reason ?? 'cancelled'), null, charged, now);
        }
        else if (charged < row.max_attempts) {
            const policy = parseJson(row.retry_policy ?? null);
            after = requeue(db, row, error, charged, now + retryDelayMs(policy, charged), now);
        }
        else {
            after = terminal(db, jobId, 'failed', error, null, charged, now);
        }
        out.push(after);
        events.push(afterEvent(after));
    }
    return { value: out, events };
}
/** Heartbeats and progress of live attempts; stale fences change nothing. */
export function recordActivity(db, updates, now) {
    const update = stmt(db, `UPDATE jobs SET last_heartbeat_at = COALESCE(@heartbeatAt, last_heartbeat_at), progress = COALESCE(@progress, progress)
     WHERE ${FENCED}`);
    for (const u of updates) {
        if (u.heartbeatAt === undefined && u.progress === undefined)
            continue;
        update.run({ ...fenceArgs(u.fence, now), heartbeatAt: u.heartbeatAt ?? null, progress: u.progress ? JSON.stringify(u.progress) : null });
    }
}
export function attempts(db, jobId) {
    if (!isJobId(jobId))
        return [];
    const rows = stmt(db, 'SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt').all(Number(jobId));
    return rows.map(rowToAttempt);
}
//# sourceMappingURL=attempts.js.map