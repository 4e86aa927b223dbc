import { formatDuration } from '../../task/duration.js';
import type { ClaimRequest, RateLimit } from '../contract.js';
import { parseJson } from '../rows.js';
import type { Json } from '../../types.js';
import type { Db } from './connection.js';
import { pauseReason } from './schedules.js';
import { stmt } from './statements.js';

/** Decides, inside the claim's transaction, whether a candidate may start now; defers the ones that may not. */
export interface FlowGate {
  admit(id: number, task: string): boolean;
}

/**
 * Sliding-window rate limits and task pauses for one claim. A start is recorded in `rate_starts` in the same
 * BEGIN IMMEDIATE transaction that takes the job, so workers in other processes see it before they can claim.
 * A job that may not start is left `queued` with run_at moved to its bucket's next free slot and a wait reason:
 * idle workers then sleep until that slot instead of polling a queue they may not take from.
 */
export function flowGate(db: Db, req: ClaimRequest, now: number): FlowGate | null {
  const limits = req.rateLimits ?? {};
  const paused = new Map(
    (stmt(db, 'SELECT task, until, reason FROM task_pauses WHERE until > ?').all(now) as Array<{ task: string; until: number; reason: string }>).map(
      (p) => [p.task, p],
    ),
  );
  if (paused.size === 0 && Object.keys(limits).length === 0) return null;
  const defer = stmt(db, 'UPDATE jobs SET run_at = ?, wait_reason = ? WHERE id = ?');
  const input = stmt(db, 'SELECT input FROM jobs WHERE id = ?');
  const record = stmt(db, 'INSERT INTO rate_starts (task, key, at) VALUES (?, ?, ?)');
  const buckets = new Map<string, number[]>();

  const bucket = (task: string, key: string, limit: RateLimit): number[] => {
    const id = `${task}\u0000${key}`;
    let starts = buckets.get(id);
    if (!starts) {
      stmt(db, 'DELETE FROM rate_starts WHERE task = ? AND key = ? AND at <= ?').run(task, key, now - limit.perMs);
      starts = (stmt(db, 'SELECT at FROM rate_starts WHERE task = ? AND key = ? ORDER BY at').all(task, key) as Array<{ at: number }>).map((r) => r.at);
      buckets.set(id, starts);
    }
    return starts;
  };

  return {
    admit(id, task) {
      const pause = paused.get(task);
      if (pause) {
        defer.run(pause.until, pauseReason(task, pause.reason), id);
        return false;
      }
      const limit = limits[task];
      if (!limit) return true;
      const key = limit.key ? bucketKey(limit, parseJson<Json>((input.get(id) as { input: string }).input)) : '';
      const starts = bucket(task, key, limit);
      if (starts.length < limit.max) {
        starts.push(now);
        record.run(task, key, now);
        return true;
      }
      const slot = starts[starts.length - limit.max]! + limit.perMs;
      defer.run(slot, rateLimitReason(task, key, limit), id);
      return false;
    },
  };
}

/** A key function that throws or returns a non-string puts the job in the task's shared bucket. */
export function bucketKey(limit: RateLimit, input: Json): string {
  try {
    const k = limit.key!(input);
    return typeof k === 'string' || typeof k === 'number' ? String(k) : '';
  } catch {
    return '';
  }
}

export function rateLimitReason(task: string, key: string, limit: RateLimit): string {
  return `rate limit of ${task}${key ? ` for ${key}` : ''} (${limit.max} per ${formatDuration(limit.perMs)})`;
}
