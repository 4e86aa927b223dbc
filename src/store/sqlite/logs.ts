import type { LogLine } from '../../types.js';
import type { NewLogLine } from '../contract.js';
import { cutLogLine, LOG_RETENTION_CHUNK, LOG_RETENTION_LINES } from '../log-rules.js';
import { logLimit } from '../requests.js';
import { isJobId } from '../rows.js';
import type { Db } from './connection.js';
import { FENCED, fenceArgs, stmt } from './statements.js';

/**
 * Appends a batch (one transaction). Lines of stale fences are dropped. Each job's lines get the next seq values
 * from jobs.log_seq. Retention: a job keeps its last LOG_RETENTION_LINES lines; older ones are deleted with one
 * indexed range delete each time the job's seq crosses a multiple of LOG_RETENTION_CHUNK, so a job holds at most
 * LOG_RETENTION_LINES + LOG_RETENTION_CHUNK lines and a chatty task costs one delete per thousand lines.
 */
export function appendLogs(db: Db, lines: NewLogLine[], now: number): void {
  const fenceOk = stmt(db, `SELECT log_seq FROM jobs WHERE ${FENCED}`);
  const insert = stmt(db, 'INSERT INTO logs (job_id, attempt, seq, ts, stream, line) VALUES (?, ?, ?, ?, ?, ?)');
  const checked = new Map<string, boolean>();
  const seqs = new Map<number, { start: number; seq: number }>();
  for (const l of lines) {
    const key = `${l.fence.jobId}\u0000${l.fence.attempt}\u0000${l.fence.workerId}`;
    let ok = checked.get(key);
    const args = fenceArgs(l.fence, now);
    if (ok === undefined) {
      const row = fenceOk.get(args) as { log_seq: number } | undefined;
      ok = row !== undefined;
      checked.set(key, ok);
      if (row && !seqs.has(args.jobId)) seqs.set(args.jobId, { start: row.log_seq, seq: row.log_seq });
    }
    if (!ok) continue;
    const s = seqs.get(args.jobId)!;
    s.seq++;
    insert.run(args.jobId, l.fence.attempt, s.seq, Math.round(l.ts), l.stream, cutLogLine(String(l.line)));
  }
  const setSeq = stmt(db, 'UPDATE jobs SET log_seq = ? WHERE id = ?');
  const prune = stmt(db, 'DELETE FROM logs WHERE job_id = ? AND seq <= ?');
  for (const [jobId, s] of seqs) {
    if (s.seq === s.start) continue;
    setSeq.run(s.seq, jobId);
    if (s.seq > LOG_RETENTION_LINES && Math.floor(s.seq / LOG_RETENTION_CHUNK) !== Math.floor(s.start / LOG_RETENTION_CHUNK)) {
      prune.run(jobId, s.seq - LOG_RETENTION_LINES);
    }
  }
}


export function logs(db: Db, jobId: string, o: { afterSeq?: number; limit?: number; attempt?: number; tail?: boolean } = {}): LogLine[] {
  if (!isJobId(jobId)) return [];
  const limit = logLimit(o.limit);
  const attemptFilter = o.attempt !== undefined ? 'AND attempt = @attempt' : '';
  const sql = `SELECT job_id, attempt, seq, ts, stream, line FROM logs WHERE job_id = @jobId AND seq > @afterSeq ${attemptFilter}
    ORDER BY seq ${o.tail ? 'DESC' : 'ASC'} LIMIT @limit`;
  const rows = stmt(db, sql).all({ jobId: Number(jobId), afterSeq: o.afterSeq ?? 0, attempt: o.attempt ?? null, limit }) as Array<{
    job_id: number;
    attempt: number;
    seq: number;
    ts: number;
    stream: LogLine['stream'];
    line: string;
  }>;
  if (o.tail) rows.reverse();
  return rows.map((r) => ({ jobId: String(r.job_id), attempt: r.attempt, seq: r.seq, ts: r.ts, stream: r.stream, line: r.line }));
}
