import type { LogLine } from '../../types.js';
import type { NewLogLine } from '../contract.js';
import type { Db } from './connection.js';
/**
 * Appends a batch (one transaction). Lines of stale fences are dropped. Each job's lines get the next seq values
 * from jobs.log_seq. Retention: a job keeps its last LOG_RETENTION_LINES lines; older ones are deleted with one
 * indexed range delete each time the job's seq crosses a multiple of LOG_RETENTION_CHUNK, so a job holds at most
 * LOG_RETENTION_LINES + LOG_RETENTION_CHUNK lines and a chatty task costs one delete per thousand lines.
 */
export declare function appendLogs(db: Db, lines: NewLogLine[], now: number): void;
export declare const DEFAULT_LOG_LIMIT = 1000;
export declare function logs(db: Db, jobId: string, o?: {
    afterSeq?: number;
    limit?: number;
    attempt?: number;
    tail?: boolean;
}): LogLine[];
