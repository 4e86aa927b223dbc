import { cutLogLine, isJobId, LOG_RETENTION_CHUNK, LOG_RETENTION_LINES } from '../rows.js';
import { FENCED, fenceArgs, stmt } from './statements.js';
/**
 * Appends a batch (one transaction). Lines of stale fences are dropped. Each job's lines get the next seq values
 * from jobs.log_seq. Retention: a job keeps its last LOG_RETENTION_LINES lines; older ones are deleted with one
 * indexed range delete each time the job's seq crosses a multiple of LOG_RETENTION_CHUNK, so a job holds at most
 * LOG_RETENTION_LINES + LOG_RETENTION_CHUNK lines and a chatty task costs one delete per thousand lines.
 */
export function appendLogs(db, lines, now) {
    const fenceOk = stmt(db, `SELECT log_seq FROM jobs WHERE ${FENCED}`);
    const insert = stmt(db, 'INSERT INTO logs (job_id, attempt, seq, ts, stream, line) VALUES (?, ?, ?, ?, ?, ?)');
    const checked = new Map();
    const seqs = new Map();
    for (const l of lines) {
        const key = `${l.fence.jobId}\u0000${l.fence.attempt}\u0000${l.fence.workerId}`;
        let ok = checked.get(key);
        const args = fenceArgs(l.fence, now);
        if (ok === undefined) {
            const row = fenceOk.get(args);
            ok = row !== undefined;
            checked.set(key, ok);
            if (row && !seqs.has(args.jobId))
                seqs.set(args.jobId, { start: row.log_seq, seq: row.log_seq });
        }
        if (!ok)
            continue;
        const s = seqs.get(args.jobId);
        s.seq++;
        insert.run(args.jobId, l.fence.attempt, s.seq, Math.round(l.ts), l.stream, cutLogLine(String(l.line)));
    }
    const setSeq = stmt(db, 'UPDATE jobs SET log_seq = ? WHERE id = ?');
    const prune = stmt(db, 'DELETE FROM logs WHERE job_id = ? AND seq <= ?');
    for (const [jobId, s] of seqs) {
        if (s.seq === s.start)
            continue;
        setSeq.run(s.seq, jobId);
        if (s.seq > LOG_RETENTION_LINES && Math.floor(s.seq / LOG_RETENTION_CHUNK) !== Math.floor(s.start / LOG_RETENTION_CHUNK)) {
            prune.run(jobId, s.seq - LOG_RETENTION_LINES);
        }
    }
}
export const DEFAULT_LOG_LIMIT = 1_000;
const MAX_LOG_LIMIT = 20_000;
export function logs(db, jobId, o = {}) {
    if (!isJobId(jobId))
        return [];
    const limit = Math.max(0, Math.min(MAX_LOG_LIMIT, Math.floor(o.limit ?? DEFAULT_LOG_LIMIT)));
    const attemptFilter = o.attempt !== undefined ? 'AND attempt = @attempt' : '';
    const sql = `SELECT job_id, attempt, seq, ts, stream, line FROM logs WHERE job_id = @jobId AND seq > @afterSeq ${attemptFilter}
    ORDER BY seq ${o.tail ? 'DESC' : 'ASC'} LIMIT @limit`;
    const rows = stmt(db, sql).all({ jobId: Number(jobId), afterSeq: o.afterSeq ?? 0, attempt: o.attempt ?? null, limit });
    if (o.tail)
        rows.reverse();
    return rows.map((r) => ({ jobId: String(r.job_id), attempt: r.attempt, seq: r.seq, ts: r.ts, stream: r.stream, line: r.line }));
}
//# sourceMappingURL=logs.js.map