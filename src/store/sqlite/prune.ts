import type { PruneLogsRequest, PruneRequest, PruneResult } from '../contract.js';
import type { Db } from './connection.js';
import { stmt } from './statements.js';

/** Which finished jobs a request names, as SQL over `j` with named parameters. */
function filter(r: { tasks?: string[]; exceptTasks?: string[] }): string {
  let sql = '';
  if (r.tasks) sql += ' AND j.task IN (SELECT value FROM json_each(@tasks))';
  if (r.exceptTasks?.length) sql += ' AND j.task NOT IN (SELECT value FROM json_each(@except))';
  return sql;
}

/**
 * One bounded batch: the oldest top-level finished jobs matching the request, each with its whole subtree (children
 * go with their parent, never before it). A job with a child still queued or running is skipped: its tree is not
 * finished. Attempts and logs go by ON DELETE CASCADE.
 */
export function prune(db: Db, r: PruneRequest): PruneResult {
  const limit = Math.max(1, Math.floor(r.limit));
  const args = { before: r.finishedBefore, tasks: JSON.stringify(r.tasks ?? []), except: JSON.stringify(r.exceptTasks ?? []) };
  // One state at a time down jobs_finished_roots: an ordered index walk that stops at the limit, whatever the
  // table's size (the planner otherwise sorts every top-level job on each batch).
  const pick = stmt(
    db,
    `SELECT j.id FROM jobs j INDEXED BY jobs_finished_roots
      WHERE j.state = @state AND j.finished_at < @before AND j.parent_id IS NULL ${filter(r)}
        AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = j.id AND c.state IN ('queued', 'running'))
      ORDER BY j.finished_at LIMIT @limit`,
  );
  const roots: number[] = [];
  for (const state of r.states) {
    if (roots.length > limit) break;
    roots.push(...(pick.all({ ...args, state, limit: limit + 1 - roots.length }) as Array<{ id: number }>).map((x) => x.id));
  }
  const more = roots.length > limit;
  if (more) roots.length = limit;
  if (roots.length === 0) return { count: 0, more: false };
  const tree = `WITH RECURSIVE tree(id) AS (SELECT value FROM json_each(@roots) UNION ALL SELECT j.id FROM jobs j JOIN tree ON j.parent_id = tree.id)`;
  const ids = JSON.stringify(roots);
  if (r.dryRun) {
    const n = stmt(db, `${tree} SELECT count(*) AS n FROM tree`).get({ roots: ids }) as { n: number };
    return { count: n.n, more };
  }
  const res = stmt(db, `${tree} DELETE FROM jobs WHERE id IN (SELECT id FROM tree)`).run({ roots: ids });
  return { count: res.changes, more };
}

/** Up to `limit` log lines older than the cutoff, of jobs that finished before it; the jobs and attempts stay. */
export function pruneLogs(db: Db, r: PruneLogsRequest): PruneResult {
  const limit = Math.max(1, Math.floor(r.limit));
  // CROSS JOIN fixes the loop order: walk the oldest lines (logs_ts), look each one's job up by id.
  const lines = (
    stmt(
      db,
      `SELECT l.id FROM logs l INDEXED BY logs_ts CROSS JOIN jobs j
        WHERE l.ts < @before AND j.id = l.job_id AND j.state IN ('succeeded', 'failed', 'cancelled') AND j.finished_at < @before ${filter(r)}
        ORDER BY l.ts LIMIT @limit`,
    ).all({ before: r.finishedBefore, tasks: JSON.stringify(r.tasks ?? []), except: JSON.stringify(r.exceptTasks ?? []), limit: limit + 1 }) as Array<{ id: number }>
  ).map((x) => x.id);
  const more = lines.length > limit;
  if (more) lines.pop();
  if (lines.length === 0) return { count: 0, more: false };
  const res = stmt(db, 'DELETE FROM logs WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(lines));
  return { count: res.changes, more };
}

/**
 * Freed pages go back to the file system: `PRAGMA incremental_vacuum` when the file was created with
 * auto_vacuum=INCREMENTAL (new stores are), else only a full VACUUM shrinks it (`full`: rewrites the whole file,
 * holding the write lock meanwhile — run it from `vigil prune --vacuum` at a quiet time, not from a worker).
 * The incremental form never checkpoints by hand: a checkpoint's fsync can hold the caller's loop for hundreds of
 * ms on a busy disk, and SQLite's automatic checkpoint moves the shrink to the main file anyway.
 */
export function compact(db: Db, full: boolean): void {
  if (full) {
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } else if (Number(db.pragma('auto_vacuum', { simple: true })) === 2) {
    db.pragma('incremental_vacuum(256)');
  }
}
