// PostgreSQL store hot path, without an executor: round trips per operation, a serial claim→finish loop (C=1) and
// EXPLAIN (ANALYZE, BUFFERS) of the statements claim and finish send.
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-ops.mts [jobs=2000] [--explain]
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pgUtils from 'pg/lib/utils.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { pidsCpuMs } from './cpu.js';

const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.argv[2] ?? 2000);
const explain = process.argv.includes('--explain');
const schema = `ops_${randomBytes(4).toString('hex')}`;
const store = await openPostgresStore(`${PG}?schema=${schema}`);
// A worker listens on the store's channel (for enqueues): so does this bench, so NOTIFYs have a receiver.
store.subscribe(() => undefined);
await store.whenListening();
if (process.env.PG_OPS_NO_FINISH_NOTIFY) {
  // Experiment: the finished-jobs NOTIFY removed from the trigger, to price it.
  const admin0 = new pg.Client({ connectionString: PG });
  await admin0.connect();
  const def = (await admin0.query<{ d: string }>(`SELECT pg_get_functiondef('"${schema}".jobs_updated()'::regprocedure) AS d`)).rows[0]!.d;
  await admin0.query(def.replace(/pg_notify\(/g, 'concat_ws('));
  await admin0.end();
}
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };

type Sent = { text: string; values: unknown[] | undefined; name?: string };
let sent: Sent[] = [];
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const a = args[0] as string | { text: string; values?: unknown[]; name?: string };
  if (typeof a === 'string') sent.push({ text: a, values: args[1] as unknown[] | undefined });
  else if (a && typeof a === 'object' && 'text' in a) sent.push({ text: a.text, values: a.values ?? (args[1] as unknown[] | undefined), name: a.name });
  return (original as (...x: unknown[]) => unknown).apply(this, args);
} as typeof original;

/** CPU time (ms) of the PostgreSQL backends serving this store's pool, read from /proc (same machine). */
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
async function backendCpuMs(): Promise<number> {
  const pids = (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [store.applicationName])).rows;
  return pidsCpuMs(pids.map((r) => r.pid));
}
// Warm the pool (4 connections) so the backends exist before measuring.
await Promise.all(Array.from({ length: 4 }, () => store.counts()));
{
  const cpu0 = await backendCpuMs();
  const t0 = performance.now();
  await store.enqueue(Array.from({ length: n }, (_, i) => ({ task: 'bench.noop', input: { i }, retry })));
  console.log(`enqueue ${n} in one batch: ${Math.round(performance.now() - t0)} ms, server CPU ${(await backendCpuMs()) - cpu0} ms`);
}
const req = { workerId: 'w1', leaseMs: 30_000, limit: 1, tasks: { 'bench.noop': 1 } };

// One of each, counted.
const count = async (label: string, f: () => Promise<unknown>): Promise<unknown> => {
  sent = [];
  const out = await f();
  console.log(`${label}: ${sent.length} statement(s): ${sent.map((s) => s.name ?? s.text.replace(/\s+/g, ' ').slice(0, 40)).join(' | ')}`);
  return out;
};
const [c] = (await count('claim(1)', () => store.claim(req))) as Awaited<ReturnType<typeof store.claim>>;
await count('renewLeases(1)', () => store.renewLeases('w1', [c!.fence], 30_000));
await count('recordActivity(1)', () => store.recordActivity([{ fence: c!.fence, heartbeatAt: Date.now() }]));
await count('workerHeartbeat', () => store.workerHeartbeat('w1', {}));
await count('finishAttempt(1)', () => store.finishAttempt(c!.fence, { outcome: 'succeeded', result: null }));

if (explain) {
  // Capture the claim and finish statements of one job, then EXPLAIN them on another claimed job (ids swapped in)
  // inside a rolled-back transaction, so every plan runs on a real running row.
  sent = [];
  const [c2] = await store.claim(req);
  const claimSql = sent.find((s) => s.text.includes('claimed AS'))!;
  sent = [];
  await store.finishAttempt(c2!.fence, { outcome: 'succeeded', result: null });
  const finishSqls = sent.filter((s) => !/^(BEGIN|COMMIT)/.test(s.text.trim()));
  const [c3] = await store.claim(req);
  const swap = (v: unknown): unknown => (Array.isArray(v) ? v.map(swap) : v === c2!.job.id ? c3!.job.id : v);
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  const show = async (label: string, text: string, values: unknown[] | undefined): Promise<void> => {
    const r = (await original.call(client, `EXPLAIN (ANALYZE, BUFFERS, SUMMARY ON) ${text}`, values)) as pg.QueryResult<Record<string, string>>;
    console.log(`\n--- ${label}: ${text.replace(/\s+/g, ' ').slice(0, 80)}\n${r.rows.map((x) => x['QUERY PLAN']).join('\n')}`);
  };
  // Twice, the second shown: the first call in a session compiles the PL/pgSQL trigger functions.
  for (const round of [1, 2]) {
    await client.query('BEGIN');
    if (round === 2) await show('claim', claimSql.text, claimSql.values);
    else await original.call(client, claimSql.text, claimSql.values);
    await client.query('ROLLBACK');
  }
  await client.query('BEGIN');
  for (const s of finishSqls) await show('finish', s.text, s.values?.map(swap));
  await client.query('ROLLBACK');
  // What a prepared statement's generic plan would do with them (the store does not prepare them: see db.ts).
  await client.query('SET plan_cache_mode = force_generic_plan');
  for (const [label, s, values] of [['claim (generic)', claimSql, claimSql.values], ...finishSqls.map((f) => ['finish (generic)', f, f.values?.map(swap)] as const)] as const) {
    await client.query('BEGIN');
    await original.call(client, `PREPARE g AS ${s.text}`);
    const r = (await original.call(client, `EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY ON) EXECUTE g(${(values ?? []).map(literal).join(', ')})`)) as pg.QueryResult<Record<string, string>>;
    console.log(`\n--- ${label}\n${r.rows.map((x) => x['QUERY PLAN']).join('\n')}`);
    await client.query('ROLLBACK');
    await client.query('DEALLOCATE g');
  }
  await client.end();
  await store.finishAttempt(c3!.fence, { outcome: 'succeeded', result: null });
}

/** A parameter as SQL text (EXPLAIN EXECUTE takes no bind parameters). */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  const text = (pgUtils as { prepareValue: (x: unknown) => unknown }).prepareValue(v);
  return `'${String(text).replace(/'/g, "''")}'`;
}

// Serial loop: claim one, finish it (C=1 without an executor).
const usage0 = process.cpuUsage();
const server0 = await backendCpuMs();
sent = [];
const t0 = performance.now();
let done = 0;
for (;;) {
  const [x] = await store.claim(req);
  if (!x) break;
  await store.finishAttempt(x.fence, { outcome: 'succeeded', result: null });
  done++;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(usage0);
const serverUs = ((await backendCpuMs()) - server0) * 1000;
console.log(`serial claim+finish: ${done} jobs, ${Math.round(done / (ms / 1000))} jobs/s, ${(sent.length / done).toFixed(2)} statements/job, client CPU ${((cpu.user + cpu.system) / done).toFixed(0)} µs/job, server CPU ${(serverUs / done).toFixed(0)} µs/job`);
await admin.end();
// Prepared statements on one pooled connection, if any (none since db.ts stopped preparing; kept for experiments).
const prepared = await (store as unknown as { pool: pg.Pool }).pool.query<{ name: string; generic_plans: string; custom_plans: string }>(
  'SELECT name, generic_plans, custom_plans FROM pg_prepared_statements ORDER BY name',
);
for (const p of prepared.rows) console.log(`prepared ${p.name}: generic ${p.generic_plans}, custom ${p.custom_plans}`);
pg.Client.prototype.query = original;
await store.close();
const client = new pg.Client({ connectionString: PG });
await client.connect();
await client.query(`DROP SCHEMA "${schema}" CASCADE`);
await client.end();
