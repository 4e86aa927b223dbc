// Bulk enqueue on PostgreSQL as bench:peers does it (`vigil.submitMany` in batches of 1,000): jobs/s, and the
// client's CPU and the CPU of the store's PostgreSQL backends (from /proc, same machine) per job.
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-bulk.mts [jobs=20000]
// Run another checkout's Vigil with ROOT=/path/to/tree (A/B in the same minutes).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { pidsCpuMs } from './cpu.js';

const root = resolve(process.env.ROOT ?? new URL('..', import.meta.url).pathname);
const { Vigil } = (await import(`${root}/src/index.ts`)) as typeof import('../src/index.js');
const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.argv[2] ?? 20000);
const schema = `bulk_${randomBytes(4).toString('hex')}`;
const vigil = await Vigil.open({ store: `${PG}?schema=${schema}`, tasks: `${root}/bench/tasks.ts` });
// Warm-up batch: the pool's connections and the trigger functions.
await vigil.submitMany('bench.noop', Array.from({ length: 1000 }, () => ({})));
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
const serverMs = async (): Promise<number> => {
  const pids = (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1', [`vigil:${schema}:%`])).rows;
  return pidsCpuMs(pids.map((r) => r.pid));
};
const s0 = await serverMs();
const u0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i += 1000) await vigil.submitMany('bench.noop', Array.from({ length: Math.min(1000, n - i) }, () => ({})));
const ms = performance.now() - t0;
const cpu = process.cpuUsage(u0);
const server = (await serverMs()) - s0;
console.log(`bulk ${n}: ${Math.round(n / (ms / 1000))}/s, client CPU ${((cpu.user + cpu.system) / n).toFixed(1)} µs/job, server CPU ${((server * 1000) / n).toFixed(1)} µs/job`);
await vigil.close();
await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
await admin.end();
