import type { Statement } from 'better-sqlite3';
import type { Fence } from '../contract.js';
import { isJobId } from '../rows.js';
import type { Db } from './connection.js';

const cache = new WeakMap<Db, Map<string, Statement>>();

/** A prepared statement, compiled once per connection: nothing on the hot path is parsed twice. */
export function stmt(db: Db, sql: string): Statement {
  let m = cache.get(db);
  if (!m) cache.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s;
}

/** The fence of DESIGN G5 as SQL: the job is running this very attempt, under this worker's unexpired lease. */
export const FENCED = `id = @jobId AND state = 'running' AND attempts = @attempt AND lease_owner = @workerId AND lease_expires_at > @now`;

/** Named parameters of FENCED. A malformed job id matches nothing (never NaN into SQL). */
export function fenceArgs(f: Fence, now: number): { jobId: number; attempt: number; workerId: string; now: number } {
  return { jobId: isJobId(f.jobId) ? Number(f.jobId) : -1, attempt: f.attempt, workerId: f.workerId, now };
}
