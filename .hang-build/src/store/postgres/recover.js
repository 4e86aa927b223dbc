import { retryDelayMs } from '../../task/retry.js';
import { cancelledError, deadlineError, leaseLostError } from '../rows.js';
import { jobColumns, toJob } from './rows.js';
/** Expired leases recovered per call; the next call (the engine runs this periodically) takes the rest. */
const BATCH = 500;
/**
 * One transaction: lock the running jobs whose lease expired on the DATABASE's clock (`SKIP LOCKED`, so workers
 * recovering at the same time split the work instead of doing it twice), decide each job's fate with its own retry
 * policy, and write every decision with one batched UPDATE.
 */
export async function recoverExpired(db) {
    const S = db.s;
    return db.tx(async (q) => {
        const expired = await q(`SELECT id::text, charged_attempts, max_attempts, retry, deadline_at, cancel_requested, cancel_reason, lease_owner,
              lease_expires_at, ${S}.now_ms() AS now
         FROM ${S}.jobs
        WHERE state = 'running' AND lease_expires_at <= ${S}.now_ms()
        ORDER BY lease_expires_at
        LIMIT ${BATCH}
        FOR UPDATE SKIP LOCKED`);
        if (expired.length === 0)
            return [];
        const ids = [];
        const states = [];
        const delays = [];
        const errors = [];
        const attemptErrors = [];
        for (const r of expired) {
            const now = Number(r.now);
            const crashed = leaseLostError(r.lease_owner, r.lease_expires_at === null ? null : Number(r.lease_expires_at), now);
            const charged = r.charged_attempts + 1;
            let state;
            let error = crashed;
            let delay = 0;
            if (r.cancel_requested) {
                state = 'cancelled';
                error = cancelledError(r.cancel_reason ?? 'cancelled');
            }
            else if (charged >= r.max_attempts) {
                state = 'failed';
            }
            else {
                delay = retryDelayMs(JSON.parse(r.retry), charged);
                if (r.deadline_at !== null && now + delay >= Number(r.deadline_at)) {
                    state = 'failed';
                    error = deadlineError(Number(r.deadline_at), now, crashed);
                }
                else
                    state = 'queued';
            }
            attemptErrors.push(JSON.stringify(crashed));
            ids.push(r.id);
            states.push(state);
            delays.push(state === 'queued' ? delay : null);
            errors.push(JSON.stringify(error));
        }
        const rows = await q(`WITH c AS (SELECT ${S}.now_ms() AS now),
       d AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[])
               AS d(id, state, delay_ms, error, attempt_error)),
       j AS (
         UPDATE ${S}.jobs j SET
           state = d.state, error = d.error, charged_attempts = j.charged_attempts + 1,
           run_at = CASE WHEN d.state = 'queued' THEN c.now + d.delay_ms ELSE j.run_at END,
           finished_at = CASE WHEN d.state = 'queued' THEN NULL ELSE c.now END,
           updated_at = c.now, lease_owner = NULL, lease_expires_at = NULL
         FROM d, c
         WHERE j.id = d.id
         RETURNING ${jobColumns('j')}
       ),
       a AS (
         UPDATE ${S}.attempts a SET finished_at = c.now, outcome = 'crashed', charged = true, error = d.attempt_error
           FROM j, c, d
          WHERE a.job_id = j.id AND d.id = j.id AND a.attempt = j.attempts AND a.finished_at IS NULL
       )
       SELECT * FROM j ORDER BY id`, [ids, states, delays, errors, attemptErrors]);
        return rows.map(toJob);
    });
}
//# sourceMappingURL=recover.js.map