import type { PruneLogsRequest, PruneRequest, PruneResult } from '../contract.js';
import type { Db } from './db.js';

/** See the SQLite twin (src/store/sqlite/prune.ts): one bounded batch of top-level jobs with their subtrees. */
export async function prune(db: Db, r: PruneRequest): Promise<PruneResult> {
  const S = db.s;
  const limit = Math.max(1, Math.floor(r.limit));
  const params = [r.finishedBefore, r.states, r.tasks ?? null, r.exceptTasks ?? [], limit + 1];
  const roots = `SELECT j.id FROM ${S}.jobs j
      WHERE j.state = ANY($2::text[]) AND j.finished_at < $1 AND j.parent_id IS NULL
        AND ($3::text[] IS NULL OR j.task = ANY($3::text[])) AND NOT (j.task = ANY($4::text[]))
        AND NOT EXISTS (SELECT 1 FROM ${S}.jobs c WHERE c.parent_id = j.id AND c.state IN ('queued', 'running'))
      ORDER BY j.finished_at LIMIT $5`;
  if (r.dryRun) {
    const rows = await db.read<{ n: string; roots: string }>(
      `WITH RECURSIVE picked AS (${roots}),
       lim AS (SELECT id FROM picked LIMIT ${limit}),
       tree(id) AS (SELECT id FROM lim UNION ALL SELECT j.id FROM ${S}.jobs j JOIN tree ON j.parent_id = tree.id)
       SELECT (SELECT count(*) FROM tree) AS n, (SELECT count(*) FROM picked) AS roots`,
      params,
    );
    return { count: Number(rows[0]!.n), more: Number(rows[0]!.roots) > limit };
  }
  const rows = await db.query<{ n: string; roots: string }>(
    `WITH RECURSIVE picked AS (${roots} FOR UPDATE SKIP LOCKED),
     lim AS (SELECT id FROM picked LIMIT ${limit}),
     tree(id) AS (SELECT id FROM lim UNION ALL SELECT j.id FROM ${S}.jobs j JOIN tree ON j.parent_id = tree.id),
     del AS (DELETE FROM ${S}.jobs WHERE id IN (SELECT id FROM tree) RETURNING 1)
     SELECT (SELECT count(*) FROM del) AS n, (SELECT count(*) FROM picked) AS roots`,
    params,
  );
  return { count: Number(rows[0]!.n), more: Number(rows[0]!.roots) > limit };
}

export async function pruneLogs(db: Db, r: PruneLogsRequest): Promise<PruneResult> {
  const S = db.s;
  const limit = Math.max(1, Math.floor(r.limit));
  const rows = await db.query<{ n: string; lines: string }>(
    `WITH picked AS (
       SELECT l.job_id, l.seq FROM ${S}.logs l JOIN ${S}.jobs j ON j.id = l.job_id
        WHERE l.ts < $1 AND j.state IN ('succeeded', 'failed', 'cancelled') AND j.finished_at < $1
          AND ($2::text[] IS NULL OR j.task = ANY($2::text[])) AND NOT (j.task = ANY($3::text[]))
        ORDER BY l.ts LIMIT $4),
     del AS (DELETE FROM ${S}.logs d USING (SELECT * FROM picked LIMIT ${limit}) p WHERE d.job_id = p.job_id AND d.seq = p.seq RETURNING 1)
     SELECT (SELECT count(*) FROM del) AS n, (SELECT count(*) FROM picked) AS lines`,
    [r.finishedBefore, r.tasks ?? null, r.exceptTasks ?? [], limit + 1],
  );
  return { count: Number(rows[0]!.n), more: Number(rows[0]!.lines) > limit };
}

/** PostgreSQL reuses freed space after (auto)vacuum; `full` rewrites Vigil's tables to return it to the disk. */
export async function compact(db: Db, full: boolean): Promise<void> {
  const S = db.s;
  for (const t of ['jobs', 'attempts', 'logs', 'rate_starts']) await db.query(`VACUUM ${full ? 'FULL ' : ''}${S}.${t}`);
}
