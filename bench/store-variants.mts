// Schema/statement suspects A/B'd inside ONE process, so every variant shares the machine's minutes: one scratch
// SQLite store per variant (each with its own --sql run after creation), then claim+finish pairs in the C=1 worker's
// shape (the next claim asked with the finish, --pipeline of store-loop) in chunks, variants round-robin.
// Prints CPU-µs per job (this process, all threads) per variant: median over chunks and the total.
//
//   node --import tsx bench/store-variants.mts [--root DIR] [--jobs N] [--chunk K] [--batch B] 'name=SQL' ...
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const v = args[at + 1];
  args.splice(at, 2);
  return v;
}
const root = resolve(option('--root') ?? resolve(HERE, '..'));
const n = Number(option('--jobs') ?? '6000');
const chunk = Number(option('--chunk') ?? '200');
const batch = Number(option('--batch') ?? '1');
const variants = (args.length ? args : ['base=SELECT 1']).map((a) => {
  const eq = a.indexOf('=');
  return { name: a.slice(0, eq), sql: a.slice(eq + 1) };
});
const { openStore } = (await import(pathToFileURL(join(root, 'src/store/open.ts')).href)) as typeof import('../src/store/open.js');
const Database = (await import('better-sqlite3')).default;
const dir = mkdtempSync(join(tmpdir(), 'vigil-variants-'));
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
const runs = [];
for (const [i, v] of variants.entries()) {
  const file = join(dir, `v${i}.db`);
  const store = await openStore(`sqlite:${file}`);
  const db = new Database(file);
  db.exec(v.sql);
  db.close();
  for (let k = 0; k < n; k += 1000) await store.enqueue(Array.from({ length: Math.min(1000, n - k) }, () => ({ task: 'bench.noop', input: {}, retry })));
  runs.push({ ...v, store, samples: [] as number[], us: 0, jobs: 0 });
}
type Fence = Parameters<(typeof runs)[number]['store']['finishAttempt']>[0];
for (let done = 0; done < n; done += chunk) {
  for (const r of runs) {
    const ask = () => r.store.claim({ workerId: 'w', leaseMs: 30_000, limit: batch, tasks: { 'bench.noop': batch } });
    const finish = (c: { fence: Fence }) => r.store.finishAttempt(c.fence, { outcome: 'succeeded', result: { startedAt: 0 } } as never);
    const c0 = process.cpuUsage();
    let got = 0;
    let claimed = await ask();
    while (claimed.length > 0) {
      const next = got + claimed.length < chunk ? ask() : Promise.resolve([]);
      await Promise.all(claimed.map(finish));
      got += claimed.length;
      claimed = await next;
    }
    const c = process.cpuUsage(c0);
    r.samples.push((c.user + c.system) / got);
    r.us += c.user + c.system;
    r.jobs += got;
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const r of runs) {
  console.log(JSON.stringify({ name: r.name, median: Math.round(med(r.samples)), total: Math.round(r.us / r.jobs), jobs: r.jobs }));
  await r.store.close();
}
rmSync(dir, { recursive: true, force: true });
