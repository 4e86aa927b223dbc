// `npm run bench:peers`: the same workloads on Vigil (SQLite and PostgreSQL stores, thread isolation) and on its
// peers — BullMQ on Redis, graphile-worker and pg-boss on PostgreSQL, piscina for the bare thread-pool cost — in one
// run, peers interleaved within each round so the machine's noise hits all of them. Each figure is the median of
// the rounds with min–max. Prints a table, the acceptance ratios, and writes bench/results/latest.json and
// latest.md (or --out DIR).
//
//   npm run bench:peers                                   # issue 15's workloads, 20,000 jobs, 3 rounds
//   npm run bench:peers -- --jobs 2000 --rounds 1 --tasks 20000 --memory-jobs 20000 --only vigil-sqlite,bullmq
//   npm run bench:peers -- --only timeout,recovery        # some workloads alone (names below)
//
// --only / --skip take systems (vigil-sqlite, vigil-postgres, bullmq, graphile-worker, pg-boss) and workloads
// (threads, enqueue, drain, latency, timeout, recovery, memory), comma-separated.
//
// Vigil's drains, timeout precision, crash recovery and memory run its worker in a process of its own
// (bench/vigil-worker.ts), like a deployed worker; the bench fills the queue and polls the store from its own
// process and connection, as it does for the peers (whose workers run in the bench process, as they do in
// production: their counts are answered by Redis or PostgreSQL, not by the worker's event loop). Latency runs
// Vigil's worker in the bench process (an embedded worker, like the peers'), so waits are told in-process.
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
import { fork, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import Database from 'better-sqlite3';
// Vigil as it is installed and run: the build (`npm run bench:peers` builds first), not the sources through tsx, whose
// helpers cost every attempt a few µs and every task thread a hooks thread of its own (bench/NOTES.md).
import { SUPERVISOR_NODE_FLAGS } from '../dist/src/cli/node-flags.js';
import { Vigil } from '../dist/src/vigil.js';
import { ThreadExecutor } from '../dist/src/executors/thread-executor.js';
import type { AttemptChannel } from '../dist/src/executors/types.js';
import { epochNow, procMem, type FromWorker, type ProcMem, type ToWorker, type WorkerConfig } from './worker-ipc.js';
import type { PeerWorkerConfig } from './peer-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// bench/tasks.ts as built (tsconfig.json includes it): compiled JavaScript, as a deployed tasks module is, and as
// piscina's task (piscina-noop.mjs) and the peers' handlers are.
const TASKS = resolve(HERE, '../dist/bench/tasks.js');
const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    latency: { type: 'string', default: '500' },
    tasks: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '1,10,50' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'memory-jobs': { type: 'string', default: '100000' },
    'timeout-attempts': { type: 'string', default: '100' },
    'timeout-concurrency': { type: 'string', default: '2' },
    'recovery-jobs': { type: 'string', default: '4' },
    'recovery-wait': { type: 'string', default: '15' },
    out: { type: 'string', default: join(HERE, 'results') },
  },
});
const N = Number(args.jobs);
const ROUNDS = Number(args.rounds);
const LAT = Number(args.latency);
const TASK_N = Number(args.tasks);
const CONC = args.concurrency!.split(',').map(Number);
const SYSTEMS = ['vigil-sqlite', 'vigil-postgres', 'bullmq', 'graphile-worker', 'pg-boss'];
const WORKLOADS = ['threads', 'enqueue', 'drain', 'latency', 'timeout', 'recovery', 'memory'];
const listed = (v: string | undefined): string[] => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : []);
for (const name of [...listed(args.only), ...listed(args.skip)]) {
  if (!SYSTEMS.includes(name) && !WORKLOADS.includes(name)) throw new Error(`--only/--skip: unknown "${name}" (systems: ${SYSTEMS.join(', ')}; workloads: ${WORKLOADS.join(', ')})`);
}
const onlySystems = listed(args.only).filter((x) => SYSTEMS.includes(x));
const onlyWorkloads = listed(args.only).filter((x) => WORKLOADS.includes(x));
const skipped = new Set(listed(args.skip));
const systemOn = (name: string): boolean => !skipped.has(name) && (onlySystems.length === 0 || onlySystems.includes(name));
const workloadOn = (name: string): boolean => !skipped.has(name) && (onlyWorkloads.length === 0 || onlyWorkloads.includes(name));
const MEM_N = Number(args['memory-jobs']);
const TIMEOUT_N = Number(args['timeout-attempts']);
const TIMEOUT_C = Number(args['timeout-concurrency']);
const RECOVERY_K = Number(args['recovery-jobs']);
const RECOVERY_WAIT_MS = Number(args['recovery-wait']) * 1000;
/** The longest one step (one system, one workload, one round) may take before it is reported failed and left. */
const STEP_MS = 20 * 60_000;
/** Crash recovery: the lease (Vigil leaseMs, BullMQ lockDuration) the issue asks for. */
const LEASE_MS = 2_000;
/** bench/tasks.ts bench.spin's grace. */
const SPIN_GRACE_MS = 100;
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
  /** Deadline + grace → thread gone, ms, per attempt; or why the system has no such figure. */
  timeout(n: number, c: number): Promise<number[] | string>;
  /** SIGKILL a worker running k jobs → ms until all k run on another worker; null if not within `waitMs`; or why not measured. */
  recovery(k: number, waitMs: number): Promise<number | null | string>;
}

// ── Worker processes ─────────────────────────────────────────────────────────────────────────────────────────────
/** A worker in a child process (bench/vigil-worker.ts or bench/peer-worker.ts), and what it reported. */
class ChildWorker {
  readonly child: ChildProcess;
  readonly starts = new Map<string, number>();
  /** Vigil: when this worker recovered each job whose lease had expired. */
  readonly recovered = new Map<string, number>();
  /** Killed attempts: ms from deadline + grace to their thread gone, by job. */
  readonly gone: Array<{ jobId: string; lateMs: number }> = [];
  /** Attempts that ended past their deadline other than killed, by how they ended. */
  readonly otherEnds = new Map<string, number>();
  firstStart: number | null = null;
  private readonly waiters = new Set<() => void>();
  private memAnswer: ((m: Extract<FromWorker, { type: 'mem' }>) => void) | null = null;
  private exit: Promise<void>;

  constructor(script: string, config: WorkerConfig | PeerWorkerConfig) {
    // Vigil's worker runs with the V8 flags the `vigil` command gives a supervisor (bin/vigil, src/cli/node-flags.ts).
    const flags = script === 'vigil-worker.ts' ? SUPERVISOR_NODE_FLAGS : [];
    this.child = fork(resolve(HERE, script), [JSON.stringify(config)], { execArgv: [...flags, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exit = new Promise((r) =>
      this.child.once('exit', () => {
        this.exited = true;
        r();
      }),
    );
    this.child.on('message', (m: FromWorker) => {
      if (m.type === 'started') {
        this.firstStart ??= m.at;
        if (!this.starts.has(m.jobId)) this.starts.set(m.jobId, m.at);
      } else if (m.type === 'recovered') {
        for (const id of m.jobIds) if (!this.recovered.has(id)) this.recovered.set(id, m.at);
      } else if (m.type === 'gone') {
        if (m.end === 'killed') this.gone.push({ jobId: m.jobId, lateMs: m.lateMs });
        else this.otherEnds.set(m.end, (this.otherEnds.get(m.end) ?? 0) + 1);
      }
      else if (m.type === 'mem') this.memAnswer?.(m);
      this.ready ||= m.type === 'ready';
      for (const w of this.waiters) w();
    });
  }
  ready = false;
  exited = false;

  /** Until `check` holds after some message, or the process exited, or `ms` passed. */
  async until(check: () => boolean, ms: number, what: string): Promise<void> {
    if (check()) return;
    let wake: () => void = () => undefined;
    const step = (): void => wake();
    this.waiters.add(step);
    const end = Date.now() + ms;
    void this.exit.then(step);
    try {
      while (!check()) {
        if (this.exited) throw new Error(`${what}: the worker process exited`);
        const left = end - Date.now();
        if (left <= 0) throw new Error(`timed out after ${ms} ms: ${what}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.min(left, 250));
        });
      }
    } finally {
      this.waiters.delete(step);
    }
  }

  mem(): Promise<Extract<FromWorker, { type: 'mem' }>> {
    return new Promise((r) => {
      this.memAnswer = r;
      this.child.send({ type: 'mem' } satisfies ToWorker);
    });
  }

  async stop(drainMs = 5_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) this.child.send({ type: 'stop', drainMs } satisfies ToWorker);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), drainMs + 15_000);
    await this.exit;
    clearTimeout(timer);
  }

  sigkill(): Promise<void> {
    this.child.kill('SIGKILL');
    return this.exit;
  }
}

function vigilWorker(store: string, over: Partial<WorkerConfig>): ChildWorker {
  return new ChildWorker('vigil-worker.ts', { store, tasks: TASKS, concurrency: 1, leaseMs: 30_000, starts: 'first', graceMs: SPIN_GRACE_MS, sampleMs: 0, ...over });
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

// ── Vigil ────────────────────────────────────────────────────────────────────────────────────────────────────────
interface VigilStore {
  vigil: Vigil;
  url: string;
  drop: () => Promise<void>;
  /**
   * Whether any job is still queued or running, on the bench's own connection: one index probe (jobs_state_id), so
   * the drain clock's 10 ms polling costs the machine as little as BullMQ's counters or graphile-worker's EXISTS. (A
   * COUNT(*) GROUP BY state is 2.2 ms at 20,000 jobs: a fifth of a core on this 2-core machine.)
   */
  busy: () => Promise<boolean>;
}
const BUSY_SQL = `SELECT EXISTS(SELECT 1 FROM jobs WHERE state IN ('queued', 'running')) AS busy`;
async function openVigil(kind: 'sqlite' | 'postgres'): Promise<VigilStore> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-peers-'));
    const url = `sqlite:${join(dir, 'v.db')}`;
    const vigil = await Vigil.open({ store: url, tasks: TASKS });
    let db: Database.Database | null = null;
    const busy = async (): Promise<boolean> => {
      db ??= new Database(join(dir, 'v.db'), { readonly: true, fileMustExist: true });
      return (db.prepare(BUSY_SQL).get() as { busy: number }).busy === 1;
    };
    return {
      vigil,
      url,
      busy,
      drop: async () => {
        db?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `bench_${rand()}`;
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  const vigil = await Vigil.open({ store: url, tasks: TASKS });
  const busy = async (): Promise<boolean> => (await pgPool().query<{ busy: boolean }>(BUSY_SQL.replace('FROM jobs', `FROM "${schema}".jobs`))).rows[0]!.busy;
  return { vigil, url, busy, drop: () => dropSchema(schema) };
}
async function fill(vigil: Vigil, n: number, task = 'bench.noop', input: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) ids.push(...(await vigil.submitMany(task, Array.from({ length: Math.min(1000, n - i) }, () => input))).map((j) => j.id));
  return ids;
}

interface DrainMem {
  supervisor: ProcMem;
  hostsMiB: number;
  hostsPeakMiB: number;
  hosts: number;
}
/**
 * Drains n queued no-op jobs with a worker process of concurrency c. The clock runs from the worker's first handler
 * start to the bench's own store connection showing all n succeeded.
 */
async function vigilDrain(kind: 'sqlite' | 'postgres', n: number, c: number, sampleMs = 0): Promise<{ rate: number; mem: DrainMem }> {
  const { vigil, url, drop, busy } = await openVigil(kind);
  let worker: ChildWorker | null = null;
  try {
    await fill(vigil, n);
    if (process.env.BENCH_VIGIL_IN_PROCESS) {
      // Diagnostic only (A/B of the worker process against an embedded worker); memory figures are not comparable.
      const w = await vigil.startWorker({ concurrency: c, leaseMs: 30_000 });
      let first = 0;
      w.on('event', (e: { type: string }) => {
        if (e.type === 'started' && first === 0) first = epochNow();
      });
      await until(async () => !(await busy()), 600_000, `vigil-${kind} drain`);
      const rate = (n - 1) / ((epochNow() - first) / 1000);
      await w.stop({ drainMs: 5_000 });
      const self = procMem(process.pid)!;
      return { rate, mem: { supervisor: self, hostsMiB: 0, hostsPeakMiB: 0, hosts: 0 } };
    }
    worker = vigilWorker(url, { concurrency: c, sampleMs });
    const w0 = worker;
    await until(async () => {
      if (w0.exited) throw new Error(`vigil-${kind} drain: the worker process exited`);
      return !(await busy());
    }, 600_000, `vigil-${kind} drain`);
    const end = epochNow();
    const counts = await vigil.store.counts();
    if (counts.succeeded !== n) throw new Error(`vigil-${kind} drain: ${counts.succeeded} of ${n} jobs succeeded (${JSON.stringify(counts)})`);
    const w = worker;
    await w.until(() => w.firstStart !== null, 5_000, 'first start reported');
    const rate = (n - 1) / ((end - w.firstStart!) / 1000);
    const m = await w.mem();
    return { rate, mem: { supervisor: m.supervisor, hostsMiB: sum(m.hosts.map((h) => h.rssMiB)), hostsPeakMiB: Math.max(m.hostsPeakMiB, sum(m.hosts.map((h) => h.rssMiB))), hosts: m.hosts.length } };
  } finally {
    await worker?.stop();
    await vigil.close();
    await drop();
  }
}

function vigilPeer(kind: 'sqlite' | 'postgres'): Peer {
  const name = `vigil-${kind}`;
  return {
    name,
    unavailable: async () => (kind === 'postgres' ? pgUnavailable() : null),
    async enqueue(n, bulk) {
      const { vigil, drop } = await openVigil(kind);
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
      const { rate, mem } = await vigilDrain(kind, n, c);
      record(name, `drain C=${c}: worker RSS MiB (peak)`, mem.supervisor.peakMiB);
      record(name, `drain C=${c}: executor hosts RSS MiB (all hosts)`, mem.hostsMiB);
      notes.set(`${name} hosts C=${c}`, `${mem.hosts} executor host(s) at the end of the last C=${c} drain`);
      return rate;
    },
    async latency(m) {
      const { vigil, drop } = await openVigil(kind);
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
    async timeout(n, c) {
      const { vigil, url, drop } = await openVigil(kind);
      const worker = vigilWorker(url, { concurrency: c });
      try {
        await worker.until(() => worker.ready, 60_000, 'worker ready');
        // Each round of c spins starts on c warm threads (c no-op jobs first): a killed thread is not replaced until
        // an attempt needs one, and a cold thread (~0.4 s from source, less built) outlasts the 200 ms timeout, so without the
        // warm-up most attempts would time out before their code ran — a kill of nothing, not a busy loop's.
        // The spin is bounded (10 s) so a bench whose kills do not work still ends.
        const ids: string[] = [];
        for (let done = 0; done < n; done += c) {
          const k = Math.min(c, n - done);
          await Promise.all((await fill(vigil, k)).map((id) => vigil.wait(id, { timeout: '60s' })));
          const spins = await fill(vigil, k, 'bench.spin', { ms: 10_000 });
          ids.push(...spins);
          await Promise.all(spins.map((id) => vigil.wait(id, { timeout: '60s' })));
        }
        await worker.until(() => worker.gone.length >= n, 5_000, 'every killed thread reported').catch(() => undefined);
        if (worker.otherEnds.size) notes.set(`timeout precision, ${name}: other ends`, [...worker.otherEnds].map(([k, v]) => `${v} ended ${k}`).join(', '));
        // The engine kills only after the hang capture (which runs during the grace) is over, up to its budget:
        // its length, from the stored hang reports, says how much of the lateness is the capture. Only attempts
        // whose code ran count (bench.spin heartbeats once before its loop): one that timed out while its thread
        // was still starting is ended at once, without a grace, and says nothing about stopping a busy loop.
        const ran = new Set<string>();
        const captures: number[] = [];
        for (const id of ids) {
          for (const a of await vigil.attempts(id)) {
            if (a.hangReport?.lastHeartbeatAt == null) continue;
            ran.add(id);
            captures.push(a.hangReport.captureMs);
          }
        }
        if (ran.size < ids.length) notes.set(`timeout precision, ${name}: not counted`, `${ids.length - ran.size} of ${ids.length} attempts timed out before their code ran (thread still starting)`);
        captures.sort((x, y) => x - y);
        if (captures.length) {
          record(name, 'timeout: hang capture (runs during the grace) p50 ms', pct(captures, 50));
          record(name, 'timeout: hang capture (runs during the grace) p99 ms', pct(captures, 99));
        }
        return worker.gone.filter((g) => ran.has(g.jobId)).map((g) => g.lateMs);
      } finally {
        await worker.stop();
        await vigil.close();
        await drop();
      }
    },
    async recovery(k, waitMs) {
      const { vigil, url, drop } = await openVigil(kind);
      const a = vigilWorker(url, { concurrency: k, leaseMs: LEASE_MS, starts: 'all' });
      let b: ChildWorker | null = null;
      try {
        await a.until(() => a.ready, 60_000, 'worker A ready');
        const ids = await fill(vigil, k, 'bench.held', { ms: 60_000 });
        await a.until(() => ids.every((id) => a.starts.has(id)), 60_000, 'worker A running every job');
        b = vigilWorker(url, { concurrency: k, leaseMs: LEASE_MS, starts: 'all' });
        const bw = b;
        await bw.until(() => bw.ready, 60_000, 'worker B ready');
        // Warm B (its executor host up), as a worker that has been serving would be.
        const [warm] = await fill(vigil, 1);
        await bw.until(() => bw.starts.has(warm!), 60_000, 'worker B warm');
        const killedAt = epochNow();
        await a.sigkill();
        try {
          await bw.until(() => ids.every((id) => bw.starts.has(id)), waitMs, 'recovered');
        } catch {
          return null;
        }
        // Where the time went: the lease running out and the next recovery sweep, then the claim and the start.
        const found = ids.map((id) => bw.recovered.get(id)).filter((x): x is number => x !== undefined);
        if (found.length === ids.length) record(name, `crash recovery: SIGKILL → all ${k} found expired (recovered) ms`, Math.max(...found) - killedAt);
        return Math.max(...ids.map((id) => bw.starts.get(id)!)) - killedAt;
      } finally {
        await a.sigkill();
        await b?.stop(0);
        await vigil.close();
        await drop();
      }
    },
  };
}

/** The supervisor's peak RSS and the hosts' RSS per slot beyond the first, draining `m` jobs (issue 15's memory). */
async function vigilMemory(m: number): Promise<void> {
  const name = 'vigil-sqlite';
  // One slot: the hosts' RSS a worker needs anyway; the same no-op jobs, enough for the thread's heap to settle.
  const one = await vigilDrain('sqlite', Math.max(1_000, Math.round(m / 10)), 1, 200);
  const ten = await vigilDrain('sqlite', m, 10, 200);
  record(name, `memory (${m} jobs, C=10): drain /s`, ten.rate);
  record(name, `memory (${m} jobs, C=10): supervisor peak RSS MiB`, ten.mem.supervisor.peakMiB);
  record(name, `memory (${m} jobs, C=10): executor hosts peak RSS MiB`, ten.mem.hostsPeakMiB);
  record(name, `memory (C=1): executor hosts peak RSS MiB`, one.mem.hostsPeakMiB);
  record(name, `memory: executor hosts MiB per slot beyond the first`, (ten.mem.hostsPeakMiB - one.mem.hostsPeakMiB) / 9);
  notes.set('memory', `${ten.mem.hosts} executor host(s) at C=10, ${one.mem.hosts} at C=1 (the C=1 baseline drains ${Math.max(1_000, Math.round(m / 10))} jobs); per slot beyond the first = (hosts' peak at C=10 − hosts' peak at C=1) / 9; hosts are the executor's hostPids(), not the guardian`);
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
      // Completions are kept by id: on a loaded machine a job can complete before add() has returned its id.
      const completed = new Map<string, { at: number; startedAt: number }>();
      const waiting = new Map<string, () => void>();
      const w = new Worker(name, async () => ({ startedAt: Date.now() }), { connection: REDIS, concurrency: 10 });
      w.on('completed', (job, result: { startedAt: number }) => {
        completed.set(job.id!, { at: Date.now(), startedAt: result.startedAt });
        waiting.get(job.id!)?.();
      });
      try {
        const start: number[] = [];
        const done: number[] = [];
        for (let i = 0; i < m + 1; i++) {
          const t0 = Date.now();
          const job = await q.add('noop', {});
          if (!completed.has(job.id!)) await new Promise<void>((r) => waiting.set(job.id!, r));
          const c = completed.get(job.id!)!;
          if (i === 0) continue; // warm-up
          done.push(c.at - t0);
          start.push(c.startedAt - t0);
        }
        return { start, done };
      } finally {
        await w.close();
        await q.obliterate({ force: true });
        await q.close();
      }
    },
    timeout: async () =>
      'not enforced: BullMQ has no per-job timeout that stops a running handler (the processor runs until it returns; an expired lock makes the job "stalled" and run again, while the first run goes on)',
    async recovery(k, waitMs) {
      const { Queue, Worker } = await load();
      const name = `b${rand()}`;
      const q = new Queue(name, { connection: REDIS });
      const a = new ChildWorker('peer-worker.ts', { peer: 'bullmq', queue: name, concurrency: k, lockMs: LEASE_MS, redis: REDIS, pgUrl: PG_URL });
      let b: InstanceType<typeof Worker> | null = null;
      try {
        await a.until(() => a.ready, 60_000, 'BullMQ worker A ready');
        const ids = (await q.addBulk(Array.from({ length: k }, () => ({ name: 'held', data: {}, opts: { attempts: 5 } })))).map((j) => j.id!);
        await a.until(() => ids.every((id) => a.starts.has(id)), 60_000, 'BullMQ worker A running every job');
        // The same lease and stalled-check cadence as the worker killed (lockDuration 2 s, stalledInterval 1 s).
        const starts = new Map<string, number>();
        b = new Worker(
          name,
          async (job) => {
            if (!starts.has(job.id!)) starts.set(job.id!, epochNow());
            await sleep(60_000);
          },
          { connection: REDIS, concurrency: k, lockDuration: LEASE_MS, stalledInterval: Math.max(500, LEASE_MS / 2) },
        );
        await b.waitUntilReady();
        const killedAt = epochNow();
        await a.sigkill();
        try {
          await until(async () => ids.every((id) => starts.has(id)), waitMs, 'BullMQ recovered');
        } catch {
          return null;
        }
        return Math.max(...ids.map((id) => starts.get(id)!)) - killedAt;
      } finally {
        await a.sigkill();
        await b?.close(true);
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
          await until(async () => (await pgCount(`SELECT count(*) AS n FROM (SELECT 1 FROM "${schema}"._private_jobs LIMIT 1) AS q`)) === 0, 600_000, 'graphile drain');
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
        // Completions are kept by id: on a loaded machine a job can complete before addJob() has returned its id.
        const completed = new Map<string, number>();
        const runner = await gw.run({
          connectionString: PG_URL,
          schema,
          concurrency: 10,
          noHandleSignals: true,
          pollInterval: 1_000,
          logger: quietGraphileLogger(gw),
          taskList: { noop: async (_p, helpers) => void started.set(String(helpers.job.id), Date.now()) },
        });
        runner.events.on('job:complete', ({ job }) => {
          completed.set(String(job.id), Date.now());
          waiting.get(String(job.id))?.();
        });
        try {
          const start: number[] = [];
          const done: number[] = [];
          for (let i = 0; i < m + 1; i++) {
            const t0 = Date.now();
            const job = await utils.addJob('noop', {});
            const id = String(job.id);
            if (!completed.has(id)) await new Promise<void>((r) => waiting.set(id, r));
            if (i === 0) continue;
            done.push(completed.get(id)! - t0);
            start.push(started.get(String(job.id))! - t0);
          }
          return { start, done };
        } finally {
          await runner.stop();
          await utils.release();
        }
      }),
    timeout: async () => 'not enforced: graphile-worker has no per-job timeout; a running task is never stopped from outside',
    recovery: (k, waitMs) =>
      withSchema(async (schema) => {
        const gw = await load();
        const utils = await gw.makeWorkerUtils({ connectionString: PG_URL, schema });
        await utils.migrate();
        const a = new ChildWorker('peer-worker.ts', { peer: 'graphile-worker', queue: schema, concurrency: k, lockMs: LEASE_MS, redis: REDIS, pgUrl: PG_URL });
        let b: Awaited<ReturnType<typeof gw.run>> | null = null;
        try {
          await a.until(() => a.ready, 60_000, 'graphile-worker A ready');
          const ids: string[] = [];
          for (let i = 0; i < k; i++) ids.push(String((await utils.addJob('held', {}, { maxAttempts: 5 })).id));
          await a.until(() => ids.every((id) => a.starts.has(id)), 60_000, 'graphile-worker A running every job');
          const starts = new Map<string, number>();
          b = await gw.run({
            connectionString: PG_URL,
            schema,
            concurrency: k,
            noHandleSignals: true,
            pollInterval: 1_000,
            logger: quietGraphileLogger(gw),
            taskList: {
              held: async (_p, helpers) => {
                if (!starts.has(String(helpers.job.id))) starts.set(String(helpers.job.id), epochNow());
                await sleep(60_000);
              },
            },
          });
          const killedAt = epochNow();
          await a.sigkill();
          try {
            await until(async () => ids.every((id) => starts.has(id)), waitMs, 'graphile-worker recovered');
          } catch {
            return null;
          }
          return Math.max(...ids.map((id) => starts.get(id)!)) - killedAt;
        } finally {
          await a.sigkill();
          // Nothing of B's runs (the jobs stay locked by A): stop() has no task to wait for.
          await b?.stop();
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
    timeout: async () => 'not measured: pg-boss expires a job after expireInSeconds (it is failed or retried) but does not stop the running handler',
    recovery: async () => 'not measured: pg-boss recovers an active job only when it expires (expireInSeconds, checked by its maintenance loop); not set up here',
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
const RUN_T0 = performance.now();
const elapsed = (): string => `${((performance.now() - RUN_T0) / 60_000).toFixed(1)} min`;

async function main(): Promise<void> {
  const peers = [vigilPeer('sqlite'), vigilPeer('postgres'), bullmqPeer(), graphilePeer(), pgBossPeer()].filter((p) => systemOn(p.name));
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
      // A step that hangs (a lost completion event, a dead server) must not hang the run: it is reported and left.
      let bound: ReturnType<typeof setTimeout> | undefined;
      const v = await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          bound = setTimeout(() => reject(new Error(`gave up after ${STEP_MS / 60_000} min`)), STEP_MS);
          bound.unref();
        }),
      ]).finally(() => clearTimeout(bound));
      if (process.env.BENCH_VERBOSE) console.error(`  ${system} ${metric}: ${v === null ? '' : fmt(v, metric)} (${Math.round(performance.now() - t0)} ms)`);
      if (v !== null) record(system, metric, v);
    } catch (err) {
      console.error(`${system} ${metric}: ${(err as Error).message}`);
    }
  };
  // The thread executor and piscina first, in rounds of their own: measured after the queues, in this process, the
  // executor ran several times slower (some peer's client leaves work on the event loop) while piscina did not.
  for (let round = 1; round <= ROUNDS && workloadOn('threads') && systemOn('vigil-sqlite'); round++) {
    const pair = round % 2 ? ['vigil', 'piscina'] : ['piscina', 'vigil'];
    for (const who of pair) {
      await step(who === 'vigil' ? 'vigil thread executor' : 'piscina', `${TASK_N} tasks, ${threads} threads /s`, () => (who === 'vigil' ? vigilThreads(TASK_N, threads) : piscinaTasks(TASK_N, threads)));
    }
  }
  if (workloadOn('threads')) console.error(`threads done (${elapsed()})`);
  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`round ${round}/${ROUNDS} (${elapsed()})`);
    // Rotate the order each round, so no system always runs first (warm caches) or last.
    const order = live.map((_, i) => live[(i + round) % live.length]!);
    if (workloadOn('enqueue')) {
      for (const p of order) await step(p.name, 'enqueue bulk /s', () => p.enqueue(N, true));
      for (const p of order) await step(p.name, 'enqueue one by one /s', () => p.enqueue(Math.min(N, p.name === 'pg-boss' ? 2_000 : N), false));
    }
    if (workloadOn('drain')) for (const c of CONC) for (const p of order) await step(p.name, `drain C=${c} /s`, () => p.drain(N, c));
    for (const p of workloadOn('latency') ? order : []) {
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
    // Timeout precision on one store: the timers and kills are the supervisor's and the executor's, not the store's.
    for (const p of workloadOn('timeout') ? order.filter((x) => x.name !== 'vigil-postgres') : []) {
      await step(p.name, 'timeout', async () => {
        const late = await p.timeout(TIMEOUT_N, TIMEOUT_C);
        if (typeof late === 'string') notes.set(`timeout precision, ${p.name}`, late);
        else {
          const sorted = [...late].sort((a, b) => a - b);
          if (sorted.length < TIMEOUT_N) notes.set(`timeout precision, ${p.name} round ${round}`, `${sorted.length} of ${TIMEOUT_N} attempts reported killed`);
          if (sorted.length) {
            record(p.name, `timeout: deadline+grace → thread gone p50 ms`, pct(sorted, 50));
            record(p.name, `timeout: deadline+grace → thread gone p99 ms`, pct(sorted, 99));
          }
        }
        return null;
      });
    }
    for (const p of workloadOn('recovery') ? order : []) {
      await step(p.name, 'recovery', async () => {
        const ms = await p.recovery(RECOVERY_K, RECOVERY_WAIT_MS);
        if (typeof ms === 'string') notes.set(`crash recovery, ${p.name}`, ms);
        else if (ms === null) {
          const prior = notes.get(`crash recovery, ${p.name}`);
          const times = (prior ? Number(/^not recovered in (\d+)/.exec(prior)?.[1] ?? 0) : 0) + 1;
          notes.set(
            `crash recovery, ${p.name}`,
            `not recovered in ${times} of ${ROUNDS} round(s): none of the killed worker's ${RECOVERY_K} jobs ran on the other worker within ${RECOVERY_WAIT_MS / 1000} s` +
              (p.name === 'graphile-worker' ? ' (graphile-worker unlocks a dead worker\'s jobs after 4 h — resetLockedAt, not configurable in 0.17; an operator can call forceUnlockWorkers)' : ''),
          );
        } else record(p.name, `crash recovery: SIGKILL → all ${RECOVERY_K} jobs running elsewhere ms`, ms);
        return null;
      });
    }
    if (workloadOn('memory') && MEM_N > 0 && live.some((p) => p.name === 'vigil-sqlite')) await step('vigil-sqlite', 'memory', async () => (await vigilMemory(MEM_N), null));
  }
  await pool?.end();
  report(skipped);
}

function fmt(v: number, metric: string): string {
  if (metric.endsWith('ms') || /MiB/.test(metric)) return v < 10 ? v.toFixed(2) : v.toFixed(0);
  return Math.round(v).toLocaleString('en-US');
}

function median(system: string, metric: string): number | null {
  const v = samples.get(system)?.get(metric);
  if (!v?.length) return null;
  const sorted = [...v].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Issue 15's acceptance list, from this run's medians. */
function acceptance(): string[] {
  const rows: string[] = ['| target (issue 15) | measured (medians of this run) | |', '|---|---|---|'];
  const ratio = (what: string, a: [string, string], b: [string, string], min: number): void => {
    const x = median(...a);
    const y = median(...b);
    if (x === null || y === null) return void rows.push(`| ${what} | not measured in this run | — |`);
    const r = x / y;
    rows.push(`| ${what} | ${fmt(x, a[1])} / ${fmt(y, b[1])} = ${r.toFixed(2)}× | ${r >= min ? 'met' : 'not met'} |`);
  };
  const bound = (what: string, a: [string, string], ok: (v: number) => boolean): void => {
    const x = median(...a);
    if (x === null) return void rows.push(`| ${what} | not measured in this run | — |`);
    rows.push(`| ${what} | ${fmt(x, a[1])} ${/MiB/.test(a[1]) ? 'MiB' : 'ms'} | ${ok(x) ? 'met' : 'not met'} |`);
  };
  ratio('SQLite drain C=10 ≥ 1.5× BullMQ C=10', ['vigil-sqlite', 'drain C=10 /s'], ['bullmq', 'drain C=10 /s'], 1.5);
  ratio('SQLite drain C=1 ≥ 1.0× BullMQ C=1', ['vigil-sqlite', 'drain C=1 /s'], ['bullmq', 'drain C=1 /s'], 1);
  ratio('PostgreSQL drain C=10 ≥ 2× graphile-worker C=10', ['vigil-postgres', 'drain C=10 /s'], ['graphile-worker', 'drain C=10 /s'], 2);
  ratio('PostgreSQL drain C=1 ≥ 1.0× graphile-worker C=1', ['vigil-postgres', 'drain C=1 /s'], ['graphile-worker', 'drain C=1 /s'], 1);
  ratio('PostgreSQL enqueue bulk ≥ graphile-worker', ['vigil-postgres', 'enqueue bulk /s'], ['graphile-worker', 'enqueue bulk /s'], 1);
  ratio('SQLite enqueue one by one ≥ BullMQ', ['vigil-sqlite', 'enqueue one by one /s'], ['bullmq', 'enqueue one by one /s'], 1);
  const tasksMetric = `${TASK_N} tasks, 3 threads /s`;
  ratio('thread executor ≥ 0.8× piscina', ['vigil thread executor', tasksMetric], ['piscina', tasksMetric], 0.8);
  const s99 = median('vigil-sqlite', 'enqueue→start p99 ms');
  const b99 = median('bullmq', 'enqueue→start p99 ms');
  rows.push(
    s99 === null || b99 === null
      ? '| enqueue→start p99 on SQLite ≤ BullMQ | not measured in this run | — |'
      : `| enqueue→start p99 on SQLite ≤ BullMQ (1 ms resolution) | ${fmt(s99, 'ms')} ms vs ${fmt(b99, 'ms')} ms | ${s99 <= b99 ? 'met' : 'not met'} |`,
  );
  bound('timeout precision p99 ≤ 100 ms (deadline+grace → thread gone)', ['vigil-sqlite', 'timeout: deadline+grace → thread gone p99 ms'], (v) => v <= 100);
  bound(`supervisor RSS < 150 MiB (peak, draining ${MEM_N} jobs, C=10)`, ['vigil-sqlite', `memory (${MEM_N} jobs, C=10): supervisor peak RSS MiB`], (v) => v < 150);
  bound('executor hosts < 40 MiB per slot beyond the first', ['vigil-sqlite', 'memory: executor hosts MiB per slot beyond the first'], (v) => v < 40);
  return rows;
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
    `${new Date().toISOString()} · ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} · load average at the end ${loadavg} · the run took ${elapsed()}`,
    [
      `${N} jobs per enqueue/drain, ${ROUNDS} round(s) (peers interleaved, order rotated each round), median (min–max). Vigil: as installed (its build, dist/, and the tasks module compiled to JavaScript), thread isolation, fsync on for PostgreSQL.`,
      workloadOn('drain') && `Drain: one worker process, no-op jobs, from the first handler start to the store showing all done; Vigil's worker runs in a process of its own (bench/vigil-worker.ts), and the bench polls the store from its own connection, as for the peers.`,
      workloadOn('latency') && `Latency: ${LAT} sequential jobs, the worker embedded in the bench process (Vigil's too, like the peers').`,
      workloadOn('timeout') && `Timeout precision: ${TIMEOUT_N} attempts of a busy loop past a 200 ms timeout with 100 ms grace, ${TIMEOUT_C} at a time; deadline + grace → the worker told the thread is gone.`,
      workloadOn('recovery') && `Crash recovery: ${RECOVERY_K} running jobs, their worker process SIGKILLed, ${LEASE_MS / 1000} s lease (BullMQ: lockDuration 2 s, stalledInterval 1 s), another worker already up.`,
      workloadOn('memory') && MEM_N > 0 && `Memory: ${MEM_N} queued no-op jobs drained at C=10 (SQLite), RSS of the worker process (Vigil's build, dist/, with the V8 flags bin/vigil gives a supervisor: ${SUPERVISOR_NODE_FLAGS.join(" ")}) and of its executor hosts (the executor's hostPids(), not the guardian).`,
    ]
      .filter(Boolean)
      .join(' '),
    ``,
  ];
  const rows = [`| metric | ${systems.join(' | ')} |`, `|---|${systems.map(() => '---').join('|')}|`, ...metrics.map((m) => `| ${m} | ${systems.map((s) => cell(s, m)).join(' | ')} |`)];
  const tail = [``, ...Object.entries(skipped).map(([n, w]) => `- skipped ${n}: ${w}`), ...[...notes.entries()].map(([k, v]) => `- ${k}: ${v}`)];
  const accept = [``, `## Acceptance (issue 15)`, ``, ...acceptance()];
  const md = [...head, ...rows, ...tail, ...accept, ''].join('\n');
  console.log(md);
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'latest.md'), md);
  const json = {
    at: new Date().toISOString(),
    jobs: N,
    rounds: ROUNDS,
    runMinutes: Number(((performance.now() - RUN_T0) / 60_000).toFixed(2)),
    loadavg,
    skipped,
    notes: Object.fromEntries(notes),
    acceptance: accept.slice(5),
    samples: Object.fromEntries([...samples].map(([s, m]) => [s, Object.fromEntries(m)])),
  };
  writeFileSync(join(args.out!, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
}

await main();
process.exit(0);
