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
  const args = {
    before: r.finishedBefore,
    states: JSON.stringify(r.states),
    tasks: JSON.stringify(r.tasks ?? []),
    except: JSON.stringify(r.exceptTasks ?? []),
    limit: Math.max(1, Math.floor(r.limit)) + 1,
  };
  const roots = (
    stmt(
      db,
      `SELECT j.id FROM jobs j WHERE j.state IN (SELECT value FROM json_each(@states)) AND j.finished_at < @before
         AND j.parent_id IS NULL ${filter(r)}
         AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = j.id AND c.state IN ('queued', 'running'))
       ORDER BY j.finished_at LIMIT @limit`,
    ).all(args) as Array<{ id: number }>
  ).map((x) => x.id);
  const more = roots.length === args.limit;
  if (more) roots.pop();
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

/** Log lines of up to `limit` finished jobs older than the cutoff; the jobs and attempts stay. */
export function pruneLogs(db: Db, r: PruneLogsRequest): PruneResult {
  const limit = Math.max(1, Math.floor(r.limit));
  const jobs = (
    stmt(
      db,
      `SELECT j.id FROM jobs j
        WHERE j.state IN ('succeeded', 'failed', 'cancelled') AND j.finished_at < @before ${filter(r)}
          AND EXISTS (SELECT 1 FROM logs l WHERE l.job_id = j.id)
        LIMIT @limit`,
    ).all({ before: r.finishedBefore, tasks: JSON.stringify(r.tasks ?? []), except: JSON.stringify(r.exceptTasks ?? []), limit: limit + 1 }) as Array<{ id: number }>
  ).map((x) => x.id);
  const more = jobs.length > limit;
  if (more) jobs.pop();
  if (jobs.length === 0) return { count: 0, more: false };
  const res = stmt(db, 'DELETE FROM logs WHERE job_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(jobs));
  return { count: res.changes, more };
}

/**
 * Freed pages go back to the file system: `PRAGMA incremental_vacuum` when the file was created with
 * auto_vacuum=INCREMENTAL (new stores are), else only a full VACUUM shrinks it (`full`: rewrites the whole file,
 * holding the write lock meanwhile — run it from `vigil prune --vacuum` at a quiet time, not from a worker).
 */
export function compact(db: Db, full: boolean): void {
  const mode = Number(db.pragma('auto_vacuum', { simple: true }));
  if (full) db.exec('VACUUM');
  else if (mode === 2) db.pragma('incremental_vacuum(256)');
  // PASSIVE never waits for readers of other processes: a worker's loop must not block here (TRUNCATE could).
  db.pragma(full ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(PASSIVE)');
}
