// A/B helper for bench/NOTES.md: drain N queued no-op jobs at concurrency C with the Vigil of ANY tree (this one, or
// an older commit unpacked elsewhere), and report jobs/s AND the CPU time spent per job by every process involved
// (supervisor — this process, all its threads — plus executor hosts, guardians and any other descendant), read from
// /proc between the first and the last finished job. CPU per job survives a loaded machine far better than wall time.
//
//   node --import tsx bench/ab-cpu.mts [--root DIR] [--dist] <sqlite|postgres> <jobs> <concurrency>
//
// DIR defaults to this tree; it must hold src/vigil.ts and bench/tasks.ts (bench.noop) — true of every commit since
// stop 8 (d2029d4). Prints one line of JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { descendantsCpu, machineBusyUs, selfCpu, threadsCpu } from './cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let root = resolve(HERE, '..');
const at = args.indexOf('--root');
if (at >= 0) {
  root = resolve(args[at + 1]!);
  args.splice(at, 2);
}
// --sql "STATEMENTS": run on the scratch store after it was created (suspects toggled on a throwaway store:
// DROP TRIGGER job_events_on_update, DROP INDEX …): the SQLite file, or the PostgreSQL schema (on its search_path).
const sqlAt = args.indexOf('--sql');
let scratchSql = '';
if (sqlAt >= 0) {
  scratchSql = args[sqlAt + 1]!;
  args.splice(sqlAt, 2);
}
// --prefetch K: the worker's prefetch option (default: the tree's own default).
const prefetchAt = args.indexOf('--prefetch');
let prefetch: number | undefined;
if (prefetchAt >= 0) {
  prefetch = Number(args[prefetchAt + 1]);
  args.splice(prefetchAt, 2);
}
// --by-thread: the other threads' CPU per job by thread name (Node names its workers' threads, V8's and libuv's).
const byThreadAt = args.indexOf('--by-thread');
const byThread = byThreadAt >= 0;
if (byThread) args.splice(byThreadAt, 1);
// --dist: the tree's build (dist/src, and bench/tasks.ts compiled into dist/bench), as bench:peers runs Vigil.
const distAt = args.indexOf('--dist');
const dist = distAt >= 0;
if (dist) args.splice(distAt, 1);
const [kind = 'sqlite', jobsArg = '2000', concArg = '1'] = args;
const n = Number(jobsArg);
const c = Number(concArg);
const { Vigil } = (await import(pathToFileURL(join(root, dist ? 'dist/src/vigil.js' : 'src/vigil.ts')).href)) as typeof import('../src/vigil.js');
const PG = process.env.VIGIL_BENCH_PG_URL || process.env.VIGIL_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'vigil-abcpu-'));
const schema = `ab_${randomBytes(4).toString('hex')}`;
const url = kind === 'sqlite' ? `sqlite:${join(dir, 'v.db')}` : `${PG}${PG.includes('?') ? '&' : '?'}schema=${schema}`;
const vigil = await Vigil.open({ store: url, tasks: join(root, dist ? 'dist/bench/tasks.js' : 'bench/tasks.ts') });
if (scratchSql && kind === 'sqlite') {
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(join(dir, 'v.db'));
  db.exec(scratchSql);
  db.close();
} else if (scratchSql) {
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`SET search_path TO "${schema}"; ${scratchSql}`);
  await admin.end();
}
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
for (let i = 0; i < n; i += 1000) await vigil.store.enqueue(Array.from({ length: Math.min(1000, n - i) }, () => ({ task: 'bench.noop', input: {}, retry })));

const worker = await vigil.startWorker({ concurrency: c, leaseMs: 30_000, ...(prefetch === undefined ? {} : { prefetch }) });
let done = 0;
let t0 = 0;
let self0 = 0;
let kids0 = new Map<number, number>();
let threads0 = new Map<string, number>();
let threadsUs: Record<string, number> = {};
// The machine's busy CPU: what is not Vigil's is the store's backends (PostgreSQL, when the machine is otherwise idle).
let busy0 = 0;
const finished = new Promise<{ ms: number; selfUs: number; kidsUs: number; procs: number; busyUs: number }>((resolveFinished, reject) => {
  const onEvent = (e: { type: string; outcome?: string; recorded?: boolean }): void => {
    if (e.type !== 'finished') return;
    if (e.outcome !== 'succeeded' || !e.recorded) reject(new Error(`a no-op ended ${e.outcome} (recorded ${e.recorded})`));
    done++;
    if (done === 1) {
      t0 = performance.now();
      self0 = selfCpu();
      kids0 = descendantsCpu();
      threads0 = threadsCpu();
      busy0 = machineBusyUs();
    } else if (done === n) {
      // The main thread (tid = pid) against every other thread of the supervisor (libuv pool, V8, Node workers).
      for (const [key, us] of threadsCpu()) {
        const name = key.endsWith(`#${process.pid}`) ? 'main' : byThread ? key : 'other threads';
        threadsUs[name] = (threadsUs[name] ?? 0) + us - (threads0.get(key) ?? 0);
      }
      const ms = performance.now() - t0;
      const selfUs = selfCpu() - self0;
      const kids = descendantsCpu();
      let kidsUs = 0;
      for (const [pid, us] of kids) kidsUs += us - (kids0.get(pid) ?? 0);
      resolveFinished({ ms, selfUs, kidsUs, procs: kids.size, busyUs: machineBusyUs() - busy0 });
    }
  };
  worker.on('event', onEvent);
});
const r = await finished;
const per = n - 1;
console.log(
  JSON.stringify({
    root: root.split('/').pop(),
    kind,
    c,
    n,
    jobsPerSec: Math.round(per / (r.ms / 1000)),
    cpuUsPerJob: Math.round((r.selfUs + r.kidsUs) / per),
    supervisorUsPerJob: Math.round(r.selfUs / per),
    childrenUsPerJob: Math.round(r.kidsUs / per),
    children: r.procs,
    othersUsPerJob: Math.round((r.busyUs - r.selfUs - r.kidsUs) / per),
    supervisorThreadsUsPerJob: Object.fromEntries(Object.entries(threadsUs).filter(([, us]) => us > 0).map(([k, us]) => [k, Math.round(us / per)])),
  }),
);
await worker.stop({ drainMs: 5_000 });
await vigil.close();
rmSync(dir, { recursive: true, force: true });
if (kind !== 'sqlite') {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  await client.query(`DROP SCHEMA "${schema}" CASCADE`);
  await client.end();
}
process.exit(0);
