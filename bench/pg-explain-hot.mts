// EXPLAIN (ANALYZE, BUFFERS) of the hot statements with a large queue (default 20,000 rows): the finish+claim
// statement a C=1 worker sends, a claim alone, a finish alone, and a bulk insert of 1,000 jobs. Each statement is
// captured from the store, then explained on live rows inside a rolled-back transaction (second run shown, after
// the session compiled the PL/pgSQL functions).
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-explain-hot.mts [queue=20000]
// ROOT=/path/to/tree explains another checkout's store.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';

const root = resolve(process.env.ROOT ?? new URL('..', import.meta.url).pathname);
const { openPostgresStore } = (await import(`${root}/src/store/postgres/postgres-store.ts`)) as typeof import('../src/store/postgres/postgres-store.js');
const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.argv[2] ?? 20000);
const schema = `xh_${randomBytes(4).toString('hex')}`;
const store = await openPostgresStore(`${PG}?schema=${schema}`);
let sent: Array<{ text: string; values?: unknown[] }> = [];
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const a = args[0] as string | { text: string; values?: unknown[] };
  if (typeof a === 'string') sent.push({ text: a, values: args[1] as unknown[] });
  else if (a && typeof a === 'object' && 'text' in a) sent.push({ text: a.text, values: a.values ?? (args[1] as unknown[]) });
  return (original as (...x: unknown[]) => unknown).apply(this, args);
} as typeof original;
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
const batch = (k: number) => Array.from({ length: k }, () => ({ task: 'bench.noop', input: {}, retry }));
for (let i = 0; i < n; i += 1000) await store.enqueue(batch(Math.min(1000, n - i)));
const req = { workerId: 'w1', leaseMs: 30_000, limit: 1, tasks: { 'bench.noop': 1 } };
const ok = { outcome: 'succeeded' as const, result: null };
for (let i = 0; i < 50; i++) {
  const [x] = await store.claim(req);
  await store.finishAttempt(x!.fence, ok);
}
const client = new pg.Client({ connectionString: PG });
await client.connect();
await original.call(client, `SET search_path = "${schema}"`);
const show = async (label: string, s: { text: string; values?: unknown[] }): Promise<void> => {
  for (const round of [1, 2, 3]) {
    await original.call(client, 'BEGIN');
    const r = (await original.call(client, `EXPLAIN (ANALYZE, BUFFERS, SUMMARY ON) ${s.text}`, s.values)) as pg.QueryResult<Record<string, string>>;
    await original.call(client, 'ROLLBACK');
    if (round === 3) console.log(`\n=== ${label}\n${r.rows.map((x) => x['QUERY PLAN']).join('\n')}`);
  }
};
// finish + claim: claim c1, capture the statement of finish(c1)+claim, roll forward with a fresh running job.
const [c1] = await store.claim(req);
sent = [];
await Promise.all([store.finishAttempt(c1!.fence, ok), store.claim(req)]);
const fc = sent.find((s) => s.text.includes('cl AS MATERIALIZED') || s.text.includes('finish_succeeded_claim'))!;
const [c2] = await store.claim(req);
const swap = (v: unknown): unknown => (Array.isArray(v) ? v.map(swap) : v === c1!.job.id ? c2!.job.id : v);
await show('finish+claim', { text: fc.text, values: fc.values?.map(swap) });
if (process.argv.includes('--nested')) {
  // The statements inside the PL/pgSQL functions (claim_jobs, the triggers), by auto_explain at NOTICE level.
  const notes: string[] = [];
  client.on('notice', (m) => notes.push(m.message ?? ''));
  await original.call(client, "LOAD 'auto_explain'");
  await original.call(client, 'SET auto_explain.log_min_duration = 0');
  await original.call(client, 'SET auto_explain.log_analyze = on');
  await original.call(client, 'SET auto_explain.log_nested_statements = on');
  await original.call(client, 'SET auto_explain.log_level = notice');
  for (const round of [1, 2, 3]) {
    notes.length = 0;
    await original.call(client, 'BEGIN');
    await original.call(client, fc.text, fc.values?.map(swap));
    await original.call(client, 'ROLLBACK');
  }
  console.log(`\n=== finish+claim, nested statements\n${notes.join('\n')}`);
  await original.call(client, 'SET auto_explain.log_min_duration = -1');
}
sent = [];
await store.finishAttempt(c2!.fence, ok);
const fin = sent.filter((s) => !/^(BEGIN|COMMIT)/.test(s.text.trim()))[0]!;
const [c3] = await store.claim(req);
const swap3 = (v: unknown): unknown => (Array.isArray(v) ? v.map(swap3) : v === c2!.job.id ? c3!.job.id : v);
await show('finish alone', { text: fin.text, values: fin.values?.map(swap3) });
sent = [];
await store.claim(req);
await show('claim alone', sent[0]!);
sent = [];
await store.enqueue(batch(1000));
await show('enqueue 1000', sent[0]!);
await client.end();
pg.Client.prototype.query = original;
await store.close();
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
await admin.end();
