// The thread executor alone (no engine, no store): no-op tasks through supervisor → host process → thread and back.
// Prints tasks/s, CPU time per task (utime+stime of this process and of every executor host, threads included —
// far less sensitive to machine load than wall time) and the hosts' RSS.
//
//   node --import tsx bench/exec-only.mts [--tasks 5000] [--threads 3] [--inflight 3] [--root DIR] [--tasks-module P]
//   node --import tsx bench/exec-only.mts --mem 10          # RSS of the hosts with 10 attempts in flight (4 per host)
//   node --import tsx bench/exec-only.mts --piscina         # the same shape on a bare piscina pool, for the ratio
//
// --root runs another checkout's executor (A/B against main: `git archive main | tar -x -C /tmp/base`, symlink
// node_modules, then --root /tmp/base). --tasks-module defaults to ROOT/bench/tasks.ts.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '5000' },
    threads: { type: 'string', default: '3' },
    inflight: { type: 'string' },
    root: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    'tasks-module': { type: 'string' },
    task: { type: 'string', default: 'bench.noop' },
    mem: { type: 'string' },
    input: { type: 'string', default: '{}' },
    dist: { type: 'boolean', default: false },
    piscina: { type: 'boolean', default: false },
  },
});
const selfCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
if (args.piscina) {
  // piscina runs its threads in this process: its CPU per task is this process's.
  const { Piscina } = await import('piscina');
  const threads = Number(args.threads);
  const inflight = Number(args.inflight ?? threads);
  const n = Number(args.tasks);
  const pool = new Piscina({ filename: fileURLToPath(new URL('./piscina-noop.mjs', import.meta.url)), minThreads: threads, maxThreads: threads });
  await Promise.all(Array.from({ length: threads * 4 }, () => pool.run({})));
  let next = 0;
  const c0 = selfCpu();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (next++ < n) await pool.run({});
  }));
  const wall = performance.now() - t0;
  console.log(`piscina rate ${Math.round(n / (wall / 1000))} tasks/s; cpu ${(((selfCpu() - c0) * 1000) / n).toFixed(1)} µs/task`);
  await pool.destroy();
  process.exit(0);
}
const root = resolve(args.root!);
const { ThreadExecutor } = (await import(pathToFileURL(args.dist ? `${root}/dist/src/executors/thread-executor.js` : `${root}/src/executors/thread-executor.ts`).href)) as typeof import('../src/executors/thread-executor.js');
const tasksModule = resolve(args['tasks-module'] ?? `${root}/bench/tasks.ts`);
const input = JSON.parse(args.input!) as never;
const channel = { log() {}, heartbeat() {}, progress() {}, spawn: async () => [], all: async () => [], processStarted() {}, processEnded() {}, activity() {} };

const TICK = 100; // USER_HZ on Linux
/** utime+stime of /proc/<proc>/stat: a process (pid) or one of its threads (`pid/task/tid`). */
function cpuMsOf(proc: number | string): number {
  try {
    const stat = readFileSync(`/proc/${proc}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
  } catch {
    return 0;
  }
}
function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

if (args.mem) {
  // The issue's memory figure: hosts' RSS after draining no-op tasks with C attempts in flight (4 threads per host,
  // the worker's default), then a round where all C hold their slot at once; and the same with C=1 (the first slot).
  const c = Number(args.mem);
  const drained = async (inflight: number): Promise<number[]> => {
    const exec = new ThreadExecutor({ threadsPerHost: 4 });
    const start = (task: string, i: number, input: unknown) =>
      exec.start({ key: `m${i}:1`, jobId: `m${i}`, attempt: 1, task, input: input as never, tasksModule, memoryMb: null, endsAt: Date.now() + 60_000 }, channel as never);
    let next = 0;
    const total = Number(args.tasks);
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (next < total) await start('bench.noop', next++, {}).done;
    }));
    const ends = await Promise.all(Array.from({ length: inflight }, (_, i) => start('bench.hold', total + i, { ms: 300 }).done));
    const bad = ends.find((e) => e.type !== 'returned');
    if (bad) throw new Error(`attempt ended ${JSON.stringify(bad)}`);
    const each = exec.hostPids().map(rssMiB);
    await exec.close();
    return each;
  };
  const each = await drained(c);
  const total = each.reduce((a, b) => a + b, 0);
  const [first] = await drained(1);
  console.log(
    `mem after ${args.tasks} no-op tasks: C=${c} ${each.length} hosts ${each.map((x) => x.toFixed(0)).join(' + ')} = ${total.toFixed(0)} MiB; ` +
      `C=1 ${first!.toFixed(0)} MiB; per slot beyond the first ${((total - first!) / (c - 1)).toFixed(1)} MiB`,
  );
  process.exit(0);
}

const threads = Number(args.threads);
const inflight = Number(args.inflight ?? threads);
const n = Number(args.tasks);
const exec = new ThreadExecutor({ threadsPerHost: threads });
let next = 0;
let failed = 0;
const one = async (prefix: string): Promise<void> => {
  while (next < n) {
    const i = next++;
    const end = await exec.start({ key: `${prefix}${i}:1`, jobId: `${prefix}${i}`, attempt: 1, task: args.task!, input, tasksModule, memoryMb: null, endsAt: Date.now() + 60_000 }, channel as never).done;
    if (end.type !== 'returned') failed++;
  }
};
const run = (prefix: string): Promise<unknown> => Promise.all(Array.from({ length: inflight }, () => one(prefix)));
await run('w'); // warm: hosts and threads up, tasks module loaded
next = 0;
const hosts = exec.hostPids();
const hostMainMs = (): number => hosts.reduce((a, p) => a + cpuMsOf(`${p}/task/${p}`), 0);
const main0 = hostMainMs();
const cpu0 = selfCpuMs() + hosts.reduce((a, p) => a + cpuMsOf(p), 0);
const sup0 = selfCpuMs();
const t0 = performance.now();
await run('j');
const wall = performance.now() - t0;
const supMs = selfCpuMs() - sup0;
const cpu = selfCpuMs() + hosts.reduce((a, p) => a + cpuMsOf(p), 0) - cpu0;
const mainMs = hostMainMs() - main0;
const rss = hosts.map(rssMiB).reduce((a, b) => a + b, 0);
console.log(
  `rate ${Math.round(n / (wall / 1000))} tasks/s; cpu ${((cpu * 1000) / n).toFixed(1)} µs/task (supervisor ${((supMs * 1000) / n).toFixed(1)}, hosts ${(((cpu - supMs) * 1000) / n).toFixed(1)} of which host main threads ${((mainMs * 1000) / n).toFixed(1)}); ${hosts.length} host(s) ${rss.toFixed(0)} MiB${failed ? `; ${failed} FAILED` : ''}`,
);
if (process.env.PROFHACK) {
  for (const h of (exec as unknown as { hosts: Set<{ child: { disconnect(): void } }> }).hosts) h.child.disconnect();
  await new Promise((r) => setTimeout(r, 3000));
}
await exec.close();
