// The store's own cost per job, without an engine or executor: claim one, finish it, repeat (what a C=1 worker asks
// of the store). Prints jobs/s and CPU-µs per job of this process (all threads). Works on any tree since stop 8.
//
//   node --import tsx bench/store-loop.mts [--root DIR] [--sql "DROP TRIGGER …"] [--batch K] <jobs>
//
// --batch K claims K at a time and finishes them together in one call each (the group-commit shape).
// --pipeline: the next claim is asked in the same turn as the previous job's finish (what a worker does when a
// slot frees), so a store that groups the writes of a turn can commit both at once.
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
const scratchSql = option('--sql') ?? '';
const batch = Number(option('--batch') ?? '1');
const pipelineAt = args.indexOf('--pipeline');
const pipeline = pipelineAt >= 0;
if (pipeline) args.splice(pipelineAt, 1);
const n = Number(args[0] ?? '5000');

const { openStore } = (await import(pathToFileURL(join(root, 'src/store/open.ts')).href)) as typeof import('../src/store/open.js');
const dir = mkdtempSync(join(tmpdir(), 'vigil-loop-'));
const file = join(dir, 'v.db');
const store = await openStore(`sqlite:${file}`);
if (scratchSql) {
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(file);
  db.exec(scratchSql);
  db.close();
}
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
for (let i = 0; i < n; i += 1000) await store.enqueue(Array.from({ length: Math.min(1000, n - i) }, () => ({ task: 'bench.noop', input: {}, retry })));
const t0 = performance.now();
const c0 = process.cpuUsage();
let done = 0;
const ask = () => store.claim({ workerId: 'w', leaseMs: 30_000, limit: batch, tasks: { 'bench.noop': batch } });
const finish = (c: { fence: Parameters<typeof store.finishAttempt>[0] }) => store.finishAttempt(c.fence, { outcome: 'succeeded', result: { startedAt: 0 } } as never);
if (pipeline) {
  let claimed = await ask();
  while (claimed.length > 0) {
    const next = done + claimed.length < n ? ask() : Promise.resolve([]);
    await Promise.all(claimed.map(finish));
    done += claimed.length;
    claimed = await next;
  }
} else {
  while (done < n) {
    const claimed = await ask();
    if (claimed.length === 0) throw new Error('nothing claimed');
    await Promise.all(claimed.map(finish));
    done += claimed.length;
  }
}
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ root: root.split('/').pop(), batch, pipeline, n, jobsPerSec: Math.round(n / (ms / 1000)), cpuUsPerJob: Math.round((c.user + c.system) / n), sql: scratchSql.slice(0, 40) }));
await store.close();
rmSync(dir, { recursive: true, force: true });
