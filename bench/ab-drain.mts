// A/B helper for bench/NOTES.md: drain N queued no-op jobs at concurrency C with the Vigil of this tree.
//   node --import tsx bench/ab-drain.mts <sqlite|postgres> <jobs> <concurrency>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Vigil } from '../src/vigil.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const [kind = 'sqlite', jobsArg = '3000', concArg = '10'] = process.argv.slice(2);
const n = Number(jobsArg);
const c = Number(concArg);
const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'vigil-ab-'));
const schema = `ab_${randomBytes(4).toString('hex')}`;
const url = kind === 'sqlite' ? `sqlite:${join(dir, 'v.db')}` : `${PG}?schema=${schema}`;
const vigil = await Vigil.open({ store: url, tasks: resolve(HERE, 'tasks.ts') });
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
for (let i = 0; i < n; i += 1000) await vigil.store.enqueue(Array.from({ length: Math.min(1000, n - i) }, () => ({ task: 'bench.noop', input: {}, retry })));
let first = 0;
const worker = await vigil.startWorker({ concurrency: c, leaseMs: 30_000 });
worker.on('event', (e: { type: string }) => {
  if (e.type === 'started' && first === 0) first = performance.now();
});
while ((await vigil.store.counts()).succeeded < n) await new Promise((r) => setTimeout(r, 10));
console.log(`${kind} C=${c} ${Math.round((n - 1) / ((performance.now() - first) / 1000))} jobs/s`);
await worker.stop({ drainMs: 5_000 });
await vigil.close();
rmSync(dir, { recursive: true, force: true });
if (kind !== 'sqlite') {
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  await client.query(`DROP SCHEMA "${schema}" CASCADE`);
  await client.end();
}
process.exit(0);
