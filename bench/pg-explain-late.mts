// EXPLAIN (ANALYZE, BUFFERS) of a claim after part of the queue was drained: shows what a claim pays for the jobs
// claimed before it (dead index entries of the partial claim index until VACUUM).
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-explain-late.mts [queued=5000] [drained=3000]
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';

const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const queued = Number(process.argv[2] ?? 5000);
const drained = Number(process.argv[3] ?? 3000);
const schema = `late_${randomBytes(4).toString('hex')}`;
const store = await openPostgresStore(`${PG}?schema=${schema}`);
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
await store.enqueue(Array.from({ length: queued }, (_, i) => ({ task: 'bench.noop', input: { i }, retry })));
const req = { workerId: 'w1', leaseMs: 30_000, limit: 1, tasks: { 'bench.noop': 1 } };
for (let i = 0; i < drained; i += 50) {
  const batch = await store.claim({ ...req, limit: 50, tasks: { 'bench.noop': 50 } });
  await Promise.all(batch.map((c) => store.finishAttempt(c.fence, { outcome: 'succeeded', result: null })));
}
let claimSql: { text: string; values: unknown[] } | undefined;
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const a = args[0] as { text?: string; values?: unknown[] };
  if (a && typeof a === 'object' && a.text?.includes('claimed AS')) claimSql = { text: a.text, values: a.values ?? [] };
  return (original as (...x: unknown[]) => unknown).apply(this, args);
} as typeof original;
const [c] = await store.claim(req);
pg.Client.prototype.query = original;
await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: null });
const client = new pg.Client({ connectionString: PG });
await client.connect();
for (const round of [1, 2]) {
  await client.query('BEGIN');
  const r = await client.query<Record<string, string>>(`EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY ON) ${claimSql!.text}`, claimSql!.values);
  if (round === 2) console.log(r.rows.map((x) => x['QUERY PLAN']).filter((l) => !l.includes('never executed')).join('\n'));
  await client.query('ROLLBACK');
}
const st = await client.query(`SELECT n_live_tup, n_dead_tup, last_autoanalyze, last_analyze, last_autovacuum FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`, [schema, "jobs"]);
console.log(JSON.stringify(st.rows));
await client.query(`DROP SCHEMA "${schema}" CASCADE`);
await client.end();
await store.close();
