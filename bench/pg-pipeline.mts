// What a C=1 worker with prefetch asks of the PostgreSQL store, without engine or executor: each finish goes out in
// the same turn as the refill claim (Promise.all), as the worker does. Prints jobs/s, statements per job, client
// CPU and the CPU of the store's PostgreSQL backends (from /proc) per job. `--serial` awaits them one by one.
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-pipeline.mts [jobs=2000] [--serial]
// Run another checkout's store with ROOT=/path/to/tree (A/B in the same minutes).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { pidsCpuMs } from './cpu.js';

const root = resolve(process.env.ROOT ?? new URL('..', import.meta.url).pathname);
const { openPostgresStore } = (await import(`${root}/src/store/postgres/postgres-store.ts`)) as typeof import('../src/store/postgres/postgres-store.js');
const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.argv[2] ?? 2000);
const serial = process.argv.includes('--serial');
const schema = `pipe_${randomBytes(4).toString('hex')}`;
const store = await openPostgresStore(`${PG}?schema=${schema}`);
let statements = 0;
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return (original as (...x: unknown[]) => unknown).apply(this, args);
} as typeof original;
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
const serverMs = async (): Promise<number> => {
  const pids = (await original.call(admin, 'SELECT pid FROM pg_stat_activity WHERE application_name = $1', [store.applicationName]) as pg.QueryResult<{ pid: number }>).rows;
  return pidsCpuMs(pids.map((r) => r.pid));
};
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
for (let i = 0; i < n + 20; i += 1000) await store.enqueue(Array.from({ length: Math.min(1000, n + 20 - i) }, () => ({ task: 'bench.noop', input: {}, retry })));
const req = { workerId: 'w1', leaseMs: 30_000, limit: 1, tasks: { 'bench.noop': 1 } };
const ok = { outcome: 'succeeded' as const, result: null };
// Warm the pool's connections and the functions' plans.
await Promise.all(Array.from({ length: 4 }, () => store.counts()));
for (let i = 0; i < 10; i++) {
  const [x] = await store.claim(req);
  await store.finishAttempt(x!.fence, ok);
}
const s0 = await serverMs();
const u0 = process.cpuUsage();
statements = 0;
const t0 = performance.now();
let [cur] = await store.claim(req);
let done = 0;
while (cur && done < n) {
  if (serial) {
    await store.finishAttempt(cur.fence, ok);
    [cur] = await store.claim(req);
  } else {
    const [, next] = await Promise.all([store.finishAttempt(cur.fence, ok), store.claim(req)]);
    cur = next[0];
  }
  done++;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(u0);
const server = (await serverMs()) - s0;
console.log(
  `${serial ? 'serial' : 'finish+claim in one turn'}: ${done} jobs, ${Math.round(done / (ms / 1000))} jobs/s, ${(statements / done).toFixed(2)} statements/job, client CPU ${((cpu.user + cpu.system) / done).toFixed(0)} µs/job, server CPU ${((server * 1000) / done).toFixed(0)} µs/job`,
);
pg.Client.prototype.query = original;
await store.close();
await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
await admin.end();
