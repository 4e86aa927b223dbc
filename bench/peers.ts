// `npm run bench:peers`: the same workloads on Vigil (SQLite and PostgreSQL stores, thread isolation) and on its
// peers — BullMQ on Redis, graphile-worker and pg-boss on PostgreSQL, piscina for the bare thread-pool cost — in one
// run, peers interleaved within each round so the machine's noise hits all of them. Each figure is the median of
// the rounds with min–max. Prints a table and writes bench/results/latest.json and latest.md.
//
//   npm run bench:peers                                   # 20,000 jobs, 3 rounds
//   npm run bench:peers -- --jobs 2000 --rounds 3 --latency 200 --tasks 20000 --only vigil-sqlite,bullmq
//
// A peer whose server is unreachable (Redis 127.0.0.1:6379, PostgreSQL VIGIL_BENCH_PG_URL or
// postgres://postgres@127.0.0.1:5432/test) is reported skipped. Not part of `npm test`.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from 'node:net';
import pg from 'pg';
import { Vigil } from '../src/vigil.js';
import { ThreadExecutor } from '../src/executors/thread-executor.js';
import type { AttemptChannel } from '../src/executors/types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TASKS = resolve(HERE, 'tasks.ts');
const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    latency: { type: 'string', default: '500' },
    tasks: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '1,10,50' },
    only: { type: 'string' },
    out: { type: 'string', default: join(HERE, 'results') },
  },
});
const N = Number(args.jobs);
const ROUNDS = Number(args.rounds);
const LAT = Number(args.latency);
const TASK_N = Number(args.tasks);
const CONC = args.concurrency!.split(',').map(Number);
const ONLY = args.only ? new Set(args.only.split(',')) : null;
const PG_URL = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = { host: '127.0.0.1', port: 6379 };
/** pg-boss fetches by polling (≥ 0.5 s apart): its drains use fewer jobs so a round ends. */
const PGBOSS_PER_SLOT = 40;

type Metric = string;
const samples = new Map<string, Map<Metric, number[]>>();
const notes = new Map<string, string>();
function record(system: string, metric: Metric, value: number): void {
  const m = samples.get(system) ?? new Map<Metric, number[]>();
  samples.set(system, m);
  m.set(metric, [...(m.get(metric) ?? []), value]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(10);
  }
}
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const rand = (): string => randomBytes(4).toString('hex');

interface Peer {
  name: string;
  unavailable(): Promise<string | null>;
  enqueue(n: number, bulk: boolean): Promise<number>;
  /** Jobs/s from the first handler start to the store showing every job done. */
  drain(n: number, c: number): Promise<number>;
  latency(m: number): Promise<{ start: number[]; done: number[] } | null>;
}

// ── Vigil ────────────────────────────────────────────────────────────────────────────────────────────────────────
function vigilPeer(kind: 'sqlite' | 'postgres'): Peer {
  const open = async (): Promise<{ vigil: Vigil; drop: () => Promise<void> }> => {
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-peers-'));
      const vigil = await Vigil.open({ store: `sqlite:${join(dir, 'v.db')}`, tasks: TASKS });
      return { vigil, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    const schema = `bench_${rand()}`;
    const vigil = await Vigil.open({ store: `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`, tasks: TASKS });
    return { vigil, drop: () => dropSchema(schema) };
  };
  const fill = async (vigil: Vigil, n: number): Promise<void> => {
    for (let i = 0; i < n; i += 1000) await vigil.submitMany('bench.noop', Array.from({ length: Math.min(1000, n - i) }, () => ({})));
  };
  return {
    name: `vigil-${kind}`,
    unavailable: async () => (kind === 'postgres' ? pgUnavailable() : null),
    async enqueue(n, bulk) {
      const { vigil, drop } = await open();
      try {
        const t0 = performance.now();
        if (bulk) await fill(vigil, n);
        else for (let i = 0; i < n; i++) await vigil.submit('bench.noop', {});
        return n / ((performance.now() - t0) / 1000);
      } finally {
        await vigil.close();
        await drop();
      }
    },
    async drain(n, c) {
      const { vigil, drop } = await open();
      try {
        await fill(vigil, n);
        let first = 0;
        const worker = await vigil.startWorker({ concurrency: c, leaseMs: 30_000 });
        worker.on('event', (e: { type: string }) => {
          if (e.type === 'started' && first === 0) first = performance.now();
        });
        await until(async () => (await vigil.store.counts()).succeeded === n, 600_000, 'vigil drain');
        const rate = (n - 1) / ((performance.now() - first) / 1000);
        rssOf(`vigil-${kind} C=${c}`, worker);
        await worker.stop({ drainMs: 5_000 });
        return rate;
      } finally {
        await vigil.close();
        await drop();
      }
    },
    async latency(m) {
      const { vigil, drop } = await open();
      try {
        const worker = await vigil.startWorker({ concurrency: 10, leaseMs: 30_000 });
        await vigil.wait((await vigil.submit('bench.noop', {})).id, { timeout: '60s' }); // warm the host
        const start: number[] = [];
        const done: number[] = [];
        for (let i = 0; i < m; i++) {
          const t0 = Date.now();
          const job = await vigil.submit('bench.noop', {});
          const end = await vigil.wait(job.id, { timeout: '60s' });
          done.push(Date.now() - t0);
          start.push((end.result as { startedAt: number }).startedAt - t0);
        }
        await worker.stop({ drainMs: 5_000 });
        return { start, done };
      } finally {
        await vigil.close();
        await drop();
      }
    },
  };
}

/** Supervisor RSS and executor-host RSS after a drain (issue 15's memory targets). */
function rssOf(label: string, worker: unknown): void {
  const sup = process.memoryUsage().rss / 2 ** 20;
  const pids = childPids();
  const hosts = pids.map((p) => vmRssMiB(p)).filter((x): x is number => x !== null);
  notes.set(`rss ${label}`, `supervisor ${sup.toFixed(0)} MiB; ${hosts.length} executor hosts ${hosts.reduce((a, b) => a + b, 0).toFixed(0)} MiB together`);
  void worker;
}
function childPids(): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
function vmRssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ── PostgreSQL helpers ───────────────────────────────────────────────────────────────────────────────────────────
async function pgUnavailable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL unreachable (${(err as Error).message})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}
async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}
async function pgCount(sql: string, params: unknown[] = []): Promise<number> {
  const c = pgPool();
  const { rows } = await c.query<{ n: string }>(sql, params);
  return Number(rows[0]!.n);
}
let pool: pg.Pool | null = null;
function pgPool(): pg.Pool {
  pool ??= new pg.Pool({ connectionString: PG_URL, max: 2 });
  return pool;
}

// ── BullMQ ───────────────────────────────────────────────────────────────────────────────────────────────────────
function bullmqPeer(): Peer {
  const load = async () => import('bullmq');
  return {
    name: 'bullmq',
    unavailable: () =>
      new Promise((done) => {
        const socket = connect(REDIS.port, REDIS.host);
        const fail = (why: string): void => {
          socket.destroy();
          done(`Redis unreachable (${why})`);
        };
        socket.setTimeout(2_000, () => fail('timeout'));
        socket.on('error', (err) => fail(err.message));
        socket.on('connect', () => socket.write('PING\r\n'));
        socket.on('data', (d) => {
          socket.destroy();
          done(d.toString().startsWith('+PONG') ? null : `Redis answered ${d.toString().trim()}`);
        });
      }),
    async enqueue(n, bulk) {
      const { Queue } = await load();
      const q = new Queue(`b${rand()}`, { connection: REDIS });
      try {
        const t0 = performance.now();
        if (bulk) for (let i = 0; i < n; i += 1000) await q.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: 'noop', data: {} })));
        else for (let i = 0; i < n; i++) await q.add('noop', {});
        return n / ((performance.now() - t0) / 1000);
      } finally {
        await q.obliterate({ force: true });
        await q.close();
      }
    },
    async drain(n, c) {
      const { Queue, Worker } = await load();
      const name = `b${rand()}`;
      const q = new Queue(name, { connection: REDIS });
      for (let i = 0; i < n; i += 1000) await q.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: 'noop', data: {} })));
      let first = 0;
      const w = new Worker(name, async () => {
        if (first === 0) first = performance.now();
        return { startedAt: Date.now() };
      }, { connection: REDIS, concurrency: c });
      try {
        await until(async () => (await q.getJobCounts('completed')).completed === n, 600_000, 'bullmq drain');
        return (n - 1) / ((performance.now() - first) / 1000);
      } finally {
        await w.close();
        await q.obliterate({ force: true });
        await q.close();
      }
    },
    async latency(m) {
      const { Queue, Worker } = await load();
      const name = `b${rand()}`;
      const q = new Queue(name, { connection: REDIS });
      const waiting = new Map<string, (r: { startedAt: number }) => void>();
      const w = new Worker(name, async () => ({ startedAt: Date.now() }), { connection: REDIS, concurrency: 10 });
      w.on('completed', (job, result: { startedAt: number }) => waiting.get(job.id!)?.(result));
      try {
        const start: number[] = [];
        const done: number[] = [];
        for (let i = 0; i < m + 1; i++) {
          const t0 = Date.now();
          let resolveDone!: (r: { startedAt: number }) => void;
          const finished = new Promise<{ startedAt: number }>((r) => (resolveDone = r));
          const job = await q.add('noop', {});
          waiting.set(job.id!, resolveDone);
          const r = await finished;
          if (i === 0) continue; // warm-up
          done.push(Date.now() - t0);
          start.push(r.startedAt - t0);
        }
        return { start, done };
      } finally {
        await w.close();
        await q.obliterate({ force: true });
        await q.close();
      }
    },
  };
}

// ── graphile-worker ──────────────────────────────────────────────────────────────────────────────────────────────
function graphilePeer(): Peer {
  const load = async () => import('graphile-worker');
  const withSchema = async <T>(work: (schema: string) => Promise<T>): Promise<T> => {
    const schema = `gw_${rand()}`;
    try {
      return await work(schema);
    } finally {
      await dropSchema(schema);
    }
  };
  return {
    name: 'graphile-worker',
    unavailable: pgUnavailable,
    enqueue: (n, bulk) =>
      withSchema(async (schema) => {
        const { makeWorkerUtils } = await load();
        const utils = await makeWorkerUtils({ connectionString: PG_URL, schema });
        try {
          await utils.migrate();
          const t0 = performance.now();
          if (bulk) for (let i = 0; i < n; i += 1000) await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, () => ({ identifier: 'noop', payload: {} })));
          else for (let i = 0; i < n; i++) await utils.addJob('noop', {});
          return n / ((performance.now() - t0) / 1000);
        } finally {
          await utils.release();
        }
      }),
    drain: (n, c) =>
      withSchema(async (schema) => {
        const { makeWorkerUtils, run } = await load();
        const utils = await makeWorkerUtils({ connectionString: PG_URL, schema });
        await utils.migrate();
        for (let i = 0; i < n; i += 1000) await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, () => ({ identifier: 'noop', payload: {} })));
        let first = 0;
        const runner = await run({
          connectionString: PG_URL,
          schema,
          concurrency: c,
          noHandleSignals: true,
          pollInterval: 1_000,
          logger: quietGraphileLogger(await load()),
          taskList: {
            noop: async () => {
              if (first === 0) first = performance.now();
            },
          },
        });
        try {
          await until(async () => (await pgCount(`SELECT count(*) AS n FROM "${schema}"._private_jobs`)) === 0, 600_000, 'graphile drain');
          return (n - 1) / ((performance.now() - first) / 1000);
        } finally {
          await runner.stop();
          await utils.release();
        }
      }),
    latency: (m) =>
      withSchema(async (schema) => {
        const gw = await load();
        const utils = await gw.makeWorkerUtils({ connectionString: PG_URL, schema });
        await utils.migrate();
        const started = new Map<string, number>();
        const waiting = new Map<string, () => void>();
        const runner = await gw.run({
          connectionString: PG_URL,
          schema,
          concurrency: 10,
          noHandleSignals: true,
          pollInterval: 1_000,
          logger: quietGraphileLogger(gw),
          taskList: { noop: async (_p, helpers) => void started.set(String(helpers.job.id), Date.now()) },
        });
        runner.events.on('job:complete', ({ job }) => waiting.get(String(job.id))?.());
        try {
          const start: number[] = [];
          const done: number[] = [];
          for (let i = 0; i < m + 1; i++) {
            const t0 = Date.now();
            let resolveDone!: () => void;
            const finished = new Promise<void>((r) => (resolveDone = r));
            const job = await utils.addJob('noop', {});
            waiting.set(String(job.id), resolveDone);
            await finished;
            if (i === 0) continue;
            done.push(Date.now() - t0);
            start.push(started.get(String(job.id))! - t0);
          }
          return { start, done };
        } finally {
          await runner.stop();
          await utils.release();
        }
      }),
  };
}
function quietGraphileLogger(gw: typeof import('graphile-worker')): InstanceType<typeof gw.Logger> {
  return new gw.Logger(() => (level: string, message: string) => {
    if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
  });
}

// ── pg-boss ──────────────────────────────────────────────────────────────────────────────────────────────────────
function pgBossPeer(): Peer {
  const open = async () => {
    const { default: PgBoss } = await import('pg-boss');
    const schema = `pgb_${rand()}`;
    const boss = new PgBoss({ connectionString: PG_URL, schema, supervise: false, schedule: false });
    boss.on('error', () => undefined);
    await boss.start();
    const queue = 'noop';
    await boss.createQueue(queue);
    return { boss, schema, queue };
  };
  return {
    name: 'pg-boss',
    unavailable: pgUnavailable,
    async enqueue(n, bulk) {
      const { boss, schema, queue } = await open();
      try {
        const t0 = performance.now();
        if (bulk) for (let i = 0; i < n; i += 1000) await boss.insert(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: queue, data: {} })));
        else for (let i = 0; i < n; i++) await boss.send(queue, {});
        return n / ((performance.now() - t0) / 1000);
      } finally {
        await boss.stop({ graceful: false, wait: true });
        await dropSchema(schema);
      }
    },
    async drain(n, c) {
      const { boss, schema, queue } = await open();
      const count = Math.min(n, PGBOSS_PER_SLOT * c);
      notes.set('pg-boss drain', `pg-boss polls (pollingIntervalSeconds 0.5, one job per handler call, batchSize = C): its drains use min(jobs, ${PGBOSS_PER_SLOT} × C) jobs`);
      try {
        for (let i = 0; i < count; i += 1000) await boss.insert(Array.from({ length: Math.min(1000, count - i) }, () => ({ name: queue, data: {} })));
        let first = 0;
        await boss.work(queue, { batchSize: c, pollingIntervalSeconds: 0.5 }, async (jobs: unknown[]) => {
          if (first === 0) first = performance.now();
          return jobs.map(() => ({}));
        });
        await until(async () => (await pgCount(`SELECT count(*) AS n FROM "${schema}".job WHERE state = 'completed'`)) === count, 600_000, 'pg-boss drain');
        return (count - 1) / ((performance.now() - first) / 1000);
      } finally {
        await boss.stop({ graceful: false, wait: true });
        await dropSchema(schema);
      }
    },
    latency: async () => null,
  };
}

// ── Thread executor vs piscina ───────────────────────────────────────────────────────────────────────────────────
async function vigilThreads(n: number, threads: number): Promise<number> {
  const exec = new ThreadExecutor({ threadsPerHost: threads });
  const channel: AttemptChannel = {
    log: () => undefined,
    heartbeat: () => undefined,
    progress: () => undefined,
    spawn: async () => [],
    all: async () => [],
    processStarted: () => undefined,
    processEnded: () => undefined,
    activity: () => undefined,
  };
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const a = exec.start({ key: `j${i}:1`, jobId: `j${i}`, attempt: 1, task: 'bench.noop', input: {}, tasksModule: TASKS, memoryMb: null, endsAt: Date.now() + 60_000 }, channel);
      await a.done;
    }
  };
  await Promise.all(Array.from({ length: threads }, one)); // warm: hosts and threads up
  next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: threads }, one));
  const rate = n / ((performance.now() - t0) / 1000);
  await exec.close();
  return rate;
}
async function piscinaTasks(n: number, threads: number): Promise<number> {
  const { Piscina } = await import('piscina');
  const pool = new Piscina({ filename: resolve(HERE, 'piscina-noop.mjs'), minThreads: threads, maxThreads: threads });
  await Promise.all(Array.from({ length: threads * 4 }, () => pool.run({})));
  const t0 = performance.now();
  let next = 0;
  // The same shape as the executor's: a bounded number in flight (piscina queues the rest itself otherwise).
  const one = async (): Promise<void> => {
    while (next++ < n) await pool.run({});
  };
  await Promise.all(Array.from({ length: threads * 2 }, one));
  const rate = n / ((performance.now() - t0) / 1000);
  await pool.destroy();
  return rate;
}

// ── The run ──────────────────────────────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  const peers = [vigilPeer('sqlite'), vigilPeer('postgres'), bullmqPeer(), graphilePeer(), pgBossPeer()].filter((p) => !ONLY || ONLY.has(p.name));
  const live: Peer[] = [];
  const skipped: Record<string, string> = {};
  for (const p of peers) {
    const why = await p.unavailable().catch((e: Error) => e.message);
    if (why) skipped[p.name] = why;
    else live.push(p);
  }
  for (const [name, why] of Object.entries(skipped)) console.log(`skipped ${name}: ${why}`);
  const threads = 3;
  const step = async (system: string, metric: string, work: () => Promise<number | null>): Promise<void> => {
    const t0 = performance.now();
    try {
      if (process.env.BENCH_VERBOSE) console.error(`  ${system} ${metric}…`);
      const v = await work();
      if (process.env.BENCH_VERBOSE) console.error(`  ${system} ${metric}: ${v === null ? '' : fmt(v, metric)} (${Math.round(performance.now() - t0)} ms)`);
      if (v !== null) record(system, metric, v);
    } catch (err) {
      console.error(`${system} ${metric}: ${(err as Error).message}`);
    }
  };
  // The thread executor and piscina first, in rounds of their own: measured after the queues, in this process, the
  // executor ran several times slower (some peer's client leaves work on the event loop) while piscina did not.
  for (let round = 1; round <= ROUNDS && (!ONLY || ONLY.has('threads')); round++) {
    const pair = round % 2 ? ['vigil', 'piscina'] : ['piscina', 'vigil'];
    for (const who of pair) {
      await step(who === 'vigil' ? 'vigil thread executor' : 'piscina', `${TASK_N} tasks, ${threads} threads /s`, () => (who === 'vigil' ? vigilThreads(TASK_N, threads) : piscinaTasks(TASK_N, threads)));
    }
  }
  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`round ${round}/${ROUNDS}`);
    // Rotate the order each round, so no system always runs first (warm caches) or last.
    const order = live.map((_, i) => live[(i + round) % live.length]!);
    for (const p of order) await step(p.name, 'enqueue bulk /s', () => p.enqueue(N, true));
    for (const p of order) await step(p.name, 'enqueue one by one /s', () => p.enqueue(Math.min(N, p.name === 'pg-boss' ? 2_000 : N), false));
    for (const c of CONC) for (const p of order) await step(p.name, `drain C=${c} /s`, () => p.drain(N, c));
    for (const p of order) {
      let lat: { start: number[]; done: number[] } | null = null;
      await step(p.name, 'latency', async () => {
        lat = await p.latency(LAT);
        return null;
      });
      const l = lat as { start: number[]; done: number[] } | null;
      if (l) {
        const s = [...l.start].sort((a, b) => a - b);
        const d = [...l.done].sort((a, b) => a - b);
        record(p.name, 'enqueue→start p50 ms', pct(s, 50));
        record(p.name, 'enqueue→start p99 ms', pct(s, 99));
        record(p.name, 'enqueue→done p50 ms', pct(d, 50));
        record(p.name, 'enqueue→done p99 ms', pct(d, 99));
      }
    }
  }
  await pool?.end();
  report(skipped);
}

function fmt(v: number, metric: string): string {
  if (metric.endsWith('ms')) return v < 10 ? v.toFixed(2) : v.toFixed(0);
  return Math.round(v).toLocaleString('en-US');
}

function report(skipped: Record<string, string>): void {
  const metrics = [...new Set([...samples.values()].flatMap((m) => [...m.keys()]))];
  const systems = [...samples.keys()];
  const cell = (s: string, m: string): string => {
    const v = samples.get(s)?.get(m);
    if (!v?.length) return '—';
    const sorted = [...v].sort((a, b) => a - b);
    const med = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return sorted.length > 1 ? `${fmt(med, m)} (${fmt(sorted[0]!, m)}–${fmt(sorted.at(-1)!, m)})` : fmt(med, m);
  };
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const head = [
    `# Vigil and its peers, one run (bench/peers.ts)`,
    ``,
    `${new Date().toISOString()} · ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} · load average at the end ${loadavg}`,
    `${N} jobs per enqueue/drain, ${ROUNDS} rounds (peers interleaved, order rotated each round), median (min–max). Drain: one worker process, no-op jobs, from the first handler start to the store showing all done. Vigil: thread isolation, fsync on for PostgreSQL.`,
    ``,
  ];
  const rows = [`| metric | ${systems.join(' | ')} |`, `|---|${systems.map(() => '---').join('|')}|`, ...metrics.map((m) => `| ${m} | ${systems.map((s) => cell(s, m)).join(' | ')} |`)];
  const tail = [``, ...Object.entries(skipped).map(([n, w]) => `- skipped ${n}: ${w}`), ...[...notes.entries()].map(([k, v]) => `- ${k}: ${v}`)];
  const md = [...head, ...rows, ...tail, ''].join('\n');
  console.log(md);
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'latest.md'), md);
  const json = { at: new Date().toISOString(), jobs: N, rounds: ROUNDS, loadavg, skipped, notes: Object.fromEntries(notes), samples: Object.fromEntries([...samples].map(([s, m]) => [s, Object.fromEntries(m)])) };
  writeFileSync(join(args.out!, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
}

await main();
process.exit(0);
