// Generic plans of prepared statements are chosen once per connection: this checks what the hot path costs
// when the table grows afterwards without ANALYZE (autovacuum off). Claims and finishes on a small table first
// (the plans get fixed), then 100 000 more jobs, then the time per claim+finish.
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-plan-growth.mts
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';

const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const schema = `growth_${randomBytes(4).toString('hex')}`;
const store = await openPostgresStore(`${PG}?schema=${schema}`, { poolSize: 1 });
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
await admin.query(`ALTER TABLE "${schema}".jobs SET (autovacuum_enabled = false)`);
await admin.query(`ALTER TABLE "${schema}".attempts SET (autovacuum_enabled = false)`);
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
const req = { workerId: 'w1', leaseMs: 30_000, limit: 1, tasks: { t: 1 } };
const round = async (label: string, n: number): Promise<void> => {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const [c] = await store.claim(req);
    await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: null });
  }
  console.log(`${label}: ${((performance.now() - t0) / n).toFixed(2)} ms per claim+finish`);
};
await store.enqueue(Array.from({ length: 40 }, () => ({ task: 't', input: {}, retry })));
await round('small table', 20);
for (let i = 0; i < 100; i++) await store.enqueue(Array.from({ length: 1000 }, () => ({ task: 't', input: {}, retry })));
// Half of them finished, so the table holds many rows in every state the statements look at.
for (let i = 0; i < 50; i++) {
  const batch = await store.claim({ ...req, limit: 1000, tasks: { t: 1000 } });
  await Promise.all(batch.map((c) => store.finishAttempt(c.fence, { outcome: 'succeeded', result: null })));
}
await round('after growing to 100,000 rows', 200);
// EXPLAIN the claim and finish statements as the store sends them now, on the grown table (stats still stale).
const seen: Array<{ text: string; values: unknown[] }> = [];
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const a = args[0];
  if (typeof a === 'string' && !/^(BEGIN|COMMIT|ROLLBACK)/.test(a)) seen.push({ text: a, values: (args[1] as unknown[]) ?? [] });
  return (original as (...x: unknown[]) => unknown).apply(this, args);
} as typeof original;
const [c] = await store.claim(req);
const claimSql = seen.at(-1)!;
seen.length = 0;
await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: null });
const finishSql = seen.at(-1)!;
pg.Client.prototype.query = original;
const [c2] = await store.claim(req);
const swap = (v: unknown): unknown => (Array.isArray(v) ? v.map(swap) : v === c!.job.id ? c2!.job.id : v);
for (const [label, q, values] of [['claim', claimSql, claimSql.values], ['finish', finishSql, finishSql.values.map(swap)]] as const) {
  await admin.query('BEGIN');
  const plan = await admin.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, values as unknown[]);
  await admin.query('ROLLBACK');
  const lines = plan.rows.map((r) => r['QUERY PLAN'] as string);
  if (process.env.SHOW_PLAN) console.log(lines.filter((l) => !/never executed/.test(l)).join("\n"));
  console.log(`${label} (custom plan, 100,000 rows, stats stale): ${lines.filter((l) => /Planning Time|Execution Time/.test(l)).map((l) => l.trim()).join(', ')}; ${lines[1]!.trim()}`);
}
await store.close();
await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
await admin.end();
