// `npm run bench`: throughput and latency of no-op thread jobs through a worker in this process, for the SQLite
// store and (when VIGIL_BENCH_PG_URL or VIGIL_TEST_PG_URL is set) PostgreSQL. Prints a table and writes it to
// bench/results.md, so numbers quoted anywhere come from this script.
//
//   npm run bench                         # 10,000 jobs per row
//   BENCH_JOBS=2000 npm run bench         # quicker
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Vigil } from '../src/vigil.js';
import type { Worker, WorkerEvent } from '../src/engine/worker.js';
import { noop } from './tasks.js';
import { cpuMark } from './cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TASKS = resolve(HERE, 'tasks.ts');
const JOBS = positive(process.env.BENCH_JOBS, 10_000);
/** Latency is measured on jobs submitted one by one at a steady pace below capacity, not on a backlog. */
const LATENCY_JOBS = Math.min(JOBS, positive(process.env.BENCH_LATENCY_JOBS, 1_000));
const LATENCY_GAP_MS = 5;
const BATCH = 1_000;
const PG_URL = process.env.VIGIL_BENCH_PG_URL || process.env.VIGIL_TEST_PG_URL || '';

interface Row {
  store: string;
  metric: string;
  value: string;
  note: string;
}

function positive(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return text && Number.isInteger(n) && n > 0 ? n : fallback;
}

function rate(n: number, ms: number): string {
  return perSec(n / (ms / 1000));
}

function perSec(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} jobs/s`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function fmtMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * Resolves when `n` attempts have been recorded as succeeded, with the first and last finish times: the rate is
 * counted between them (n − 1 jobs), so the worker's start and its thread host's first load are not counted.
 */
function drained(
  worker: Worker,
  n: number,
  timeoutMs: number,
  ignore = new Set<string>(),
): Promise<{ firstEnd: number; lastEnd: number; cpu: { selfUs: number; childrenUs: number } }> {
  return new Promise((resolvePromise, reject) => {
    let done = 0;
    let firstEnd = 0;
    let mark: ReturnType<typeof cpuMark> | null = null;
    const timer = setTimeout(() => {
      worker.off('event', onEvent);
      reject(new Error(`only ${done} of ${n} jobs finished within ${timeoutMs} ms`));
    }, timeoutMs);
    function onEvent(e: WorkerEvent): void {
      if (e.type === 'error') process.stderr.write(`worker: ${e.message}: ${(e.error as Error)?.message ?? e.error}\n`);
      if (e.type !== 'finished' || ignore.has(e.jobId)) return;
      if (e.outcome !== 'succeeded' || !e.recorded) {
        clearTimeout(timer);
        worker.off('event', onEvent);
        reject(new Error(`job ${e.jobId} ended ${e.outcome} (recorded: ${e.recorded}); a no-op must succeed`));
        return;
      }
      if (++done === 1) {
        firstEnd = performance.now();
        mark = cpuMark();
      }
      if (done === n) {
        clearTimeout(timer);
        worker.off('event', onEvent);
        resolvePromise({ firstEnd, lastEnd: performance.now(), cpu: mark!.since() });
      }
    }
    worker.on('event', onEvent);
  });
}

async function enqueueBatched(vigil: Vigil, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const size = Math.min(BATCH, n - i);
    await vigil.store.enqueue(Array.from({ length: size }, () => ({ task: noop.options.name, input: {}, retry: noop.options.retry })));
  }
  return performance.now() - t0;
}

async function enqueueOneByOne(vigil: Vigil, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await vigil.submit(noop, {});
  return performance.now() - t0;
}

/**
 * Drains a backlog of `n` queued jobs: jobs/s over n − 1 jobs after the first finished, the wall time, and the CPU
 * per job over the same jobs (this process — the supervisor and the bench — and its descendants — executor hosts),
 * which a loaded machine changes far less than it changes jobs/s.
 */
async function drain(vigil: Vigil, n: number, concurrency: number): Promise<{ perSec: number; wallMs: number; cpu: string }> {
  const t0 = performance.now();
  const worker = await vigil.startWorker({ concurrency, leaseMs: 30_000 });
  try {
    const { firstEnd, lastEnd, cpu } = await drained(worker, n, 20 * 60_000);
    const per = (us: number): string => Math.round(us / (n - 1)).toLocaleString('en-US');
    return {
      perSec: (n - 1) / ((lastEnd - firstEnd) / 1000),
      wallMs: lastEnd - t0,
      cpu: `CPU ${per(cpu.selfUs + cpu.childrenUs)} µs/job (supervisor ${per(cpu.selfUs)}, executor hosts ${per(cpu.childrenUs)})`,
    };
  } finally {
    await worker.stop({ drainMs: 5_000 });
  }
}

async function latency(vigil: Vigil, n: number): Promise<number[]> {
  const worker = await vigil.startWorker({ concurrency: 8, leaseMs: 30_000 });
  try {
    // Warm-up: the first job pays for the thread host's start, which is not the steady-state latency.
    const warm = await vigil.submit(noop, {});
    await vigil.wait(warm.id, { timeout: '60s' });
    const all = drained(worker, n, 10 * 60_000, new Set([warm.id]));
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await vigil.submit(noop, {})).id);
      await new Promise((r) => setTimeout(r, LATENCY_GAP_MS));
    }
    await all;
    const jobs = await vigil.store.getMany(ids);
    return jobs.map((j) => (j.result as { startedAt: number }).startedAt - j.createdAt).sort((a, b) => a - b);
  } finally {
    await worker.stop({ drainMs: 5_000 });
  }
}

async function benchStore(label: string, url: string): Promise<Row[]> {
  const rows: Row[] = [];
  const add = (metric: string, value: string, note = ''): void => {
    rows.push({ store: label, metric, value, note });
    process.stderr.write(`  ${label.padEnd(10)} ${metric.padEnd(34)} ${value}${note ? `  (${note})` : ''}\n`);
  };
  const vigil = await Vigil.open({ store: url, tasks: TASKS });
  try {
    const batched = await enqueueBatched(vigil, JOBS);
    add('enqueue, batched', rate(JOBS, batched), `${JOBS} jobs in batches of ${BATCH} (store.enqueue)`);
    const c1 = await drain(vigil, JOBS, 1);
    add('drain, concurrency 1', perSec(c1.perSec), `${JOBS} queued jobs, counted after the first finished; wall ${fmtMs(c1.wallMs)} with worker start; ${c1.cpu}`);
    const single = await enqueueOneByOne(vigil, JOBS);
    add('enqueue, one by one', rate(JOBS, single), `${JOBS} × vigil.submit, sequential`);
    const c8 = await drain(vigil, JOBS, 8);
    add('drain, concurrency 8', perSec(c8.perSec), `${JOBS} queued jobs, counted after the first finished; wall ${fmtMs(c8.wallMs)} with worker start; ${c8.cpu}`);
    const lat = await latency(vigil, LATENCY_JOBS);
    const note = `${LATENCY_JOBS} jobs submitted every ${LATENCY_GAP_MS} ms to an idle worker (concurrency 8); createdAt → task start, 1 ms resolution`;
    add('enqueue→start latency p50', `${percentile(lat, 50)} ms`, note);
    add('enqueue→start latency p99', `${percentile(lat, 99)} ms`, note);
  } finally {
    await vigil.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const started = new Date();
  const cpu = cpus();
  const machine = `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}`;
  process.stderr.write(`vigil bench — ${machine}\n${started.toISOString()}\n`);
  const rows: Row[] = [];

  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  try {
    rows.push(...(await benchStore('SQLite', `sqlite:${join(dir, 'bench.db')}`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  let pgNote = 'PostgreSQL: skipped (set VIGIL_BENCH_PG_URL or VIGIL_TEST_PG_URL to include it)';
  if (PG_URL) {
    const schema = `vigil_bench_${randomBytes(4).toString('hex')}`;
    try {
      rows.push(...(await benchStore('PostgreSQL', `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`)));
      pgNote = `PostgreSQL: ${await pgVersion(PG_URL)}, same machine, schema dropped afterwards`;
    } finally {
      await dropSchema(PG_URL, schema);
    }
  } else {
    process.stderr.write(`${pgNote}\n`);
  }

  const table = [
    '| store | metric | value | how |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.store} | ${r.metric} | ${r.value} | ${r.note} |`),
  ].join('\n');
  const report = [
    '# Vigil benchmark',
    '',
    `Produced by \`npm run bench\` (bench/run.ts) on ${started.toISOString()}.`,
    '',
    `- Machine: ${machine}`,
    `- Jobs: no-op function task, thread isolation (bench/tasks.ts); worker in the bench process (\`Vigil.startWorker\`)`,
    '- SQLite: a temp file, WAL',
    `- ${pgNote}`,
    '',
    table,
    '',
  ].join('\n');
  process.stdout.write(`\n${report}`);
  writeFileSync(join(HERE, 'results.md'), report);
  process.stderr.write(`written to ${join(HERE, 'results.md')}\n`);
}

async function pgVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    return `server ${r.rows[0]?.v ?? '?'}`;
  } finally {
    await client.end();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch (err) {
    process.stderr.write(`could not drop schema ${schema}: ${(err as Error).message}\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
