import { isJobId } from '../rows.js';
const cache = new WeakMap();
/** A prepared statement, compiled once per connection: nothing on the hot path is parsed twice. */
export function stmt(db, sql) {
    let m = cache.get(db);
    if (!m)
        cache.set(db, (m = new Map()));
    let s = m.get(sql);
    if (!s)
        m.set(sql, (s = db.prepare(sql)));
    return s;
}
/** The fence of DESIGN G5 as SQL: the job is running this very attempt, under this worker's unexpired lease. */
export const FENCED = `id = @jobId AND state = 'running' AND attempts = @attempt AND lease_owner = @workerId AND lease_expires_at > @now`;
/** Named parameters of FENCED. A malformed job id matches nothing (never NaN into SQL). */
export function fenceArgs(f, now) {
    return { jobId: isJobId(f.jobId) ? Number(f.jobId) : -1, attempt: f.attempt, workerId: f.workerId, now };
}
//# sourceMappingURL=statements.js.map