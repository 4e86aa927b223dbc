import type { Command } from 'commander';
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { StoreUnavailableError, errorMessage } from '../../errors.js';
import type { Store } from '../../store/contract.js';
import { migrationsDir, readMigrations } from '../../store/migrate.js';
import { openStore, storeUrlFromEnv } from '../../store/open.js';
import { formatDuration } from '../../task/duration.js';
import { example, sleep, storeOption, type StoreOptions } from '../common.js';
import { EXIT } from '../exit.js';
import { print, printJson } from '../output.js';

type Status = 'ok' | 'warn' | 'fail';
interface Check {
  name: string;
  status: Status;
  detail: string;
}

/** A worker not seen for this long is probably dead (workers report every 5 s). */
const WORKER_STALE_MS = 30_000;
const LOOP_SAMPLE_MS = 300;
const LOOP_WARN_MS = 100;

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check Node, the store, workers, stuck jobs, the event loop and tsx')
    .option('--json', 'print { ok, checks, counts, workers, stuck } as JSON');
  storeOption(cmd);
  example(cmd, 'vigil doctor --store postgres://localhost/app');
  cmd.action(async (opts: StoreOptions & { json?: boolean }) => {
    const report = await diagnose(storeUrlFromEnv(opts.store));
    if (opts.json) printJson(report);
    else print(render(report));
    process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
  });
}

interface Report {
  ok: boolean;
  checks: Check[];
  counts: Record<string, number> | null;
  workers: Array<{ workerId: string; hostname: string; pid: number; concurrency: number; lastSeenAt: number; stale: boolean }>;
  stuck: Array<{ id: string; task: string; leaseOwner: string | null; leaseExpiredMsAgo: number }>;
}

async function diagnose(url: string): Promise<Report> {
  const checks: Check[] = [];
  const report: Report = { ok: true, checks, counts: null, workers: [], stuck: [] };
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', status: major >= 20 ? 'ok' : 'fail', detail: `${process.version}${major >= 20 ? '' : ' (Vigil needs Node ≥ 20)'}` });

  let store: Store | null = null;
  try {
    store = await openStore(url, { create: false });
  } catch (err) {
    // A malformed URL is a usage error (exit 2); a store that will not open is what doctor is here to report.
    if (!(err instanceof StoreUnavailableError)) throw err;
    checks.push({ name: 'store', status: 'fail', detail: errorMessage(err) });
  }
  if (store) {
    try {
      await storeChecks(store, report);
    } finally {
      await store.close().catch(() => undefined);
    }
  }
  checks.push(await loopCheck());
  checks.push(await tsxCheck());
  report.ok = checks.every((c) => c.status !== 'fail');
  return report;
}

async function storeChecks(store: Store, report: Report): Promise<void> {
  const { checks } = report;
  const version = readMigrations(migrationsDir(store.kind)).length;
  checks.push({ name: 'store', status: 'ok', detail: `${store.description} opened; schema migrations applied (version ${version})` });
  try {
    // Round trip through a table no job reads: register, read back, unregister a throwaway worker record.
    const workerId = `doctor:${hostname()}:${process.pid}`;
    const started = performance.now();
    await store.registerWorker({ workerId, hostname: hostname(), pid: process.pid, concurrency: 0, tasks: [] });
    const seen = (await store.listWorkers()).some((w) => w.workerId === workerId);
    await store.unregisterWorker(workerId);
    const ms = performance.now() - started;
    checks.push({ name: 'store write/read', status: seen ? 'ok' : 'fail', detail: seen ? `round trip in ${ms.toFixed(1)} ms` : 'a record written was not read back' });
  } catch (err) {
    checks.push({ name: 'store write/read', status: 'fail', detail: errorMessage(err) });
    return;
  }
  const now = await store.now();
  report.counts = await store.counts();
  checks.push({ name: 'jobs', status: 'ok', detail: Object.entries(report.counts).map(([s, n]) => `${n} ${s}`).join(', ') });

  report.workers = (await store.listWorkers()).map((w) => ({ ...pick(w), stale: now - w.lastSeenAt > WORKER_STALE_MS }));
  const live = report.workers.filter((w) => !w.stale).length;
  const workerLines = report.workers.map((w) => `${w.workerId} (${w.concurrency} slots) last seen ${formatDuration(Math.max(0, now - w.lastSeenAt))} ago${w.stale ? ' — probably dead' : ''}`);
  checks.push({
    name: 'workers',
    status: report.workers.some((w) => w.stale) ? 'warn' : 'ok',
    detail: report.workers.length === 0 ? 'none registered (queued jobs wait until a worker starts)' : [`${live} live of ${report.workers.length}`, ...workerLines].join('\n'),
  });

  const running = await store.list({ state: 'running', limit: 10_000 });
  report.stuck = running
    .filter((j) => j.leaseExpiresAt !== null && j.leaseExpiresAt < now)
    .map((j) => ({ id: j.id, task: j.task, leaseOwner: j.leaseOwner, leaseExpiredMsAgo: now - j.leaseExpiresAt! }));
  checks.push({
    name: 'stuck jobs',
    status: report.stuck.length ? 'warn' : 'ok',
    detail: report.stuck.length
      ? [`${report.stuck.length} running with an expired lease (a running worker recovers them):`, ...report.stuck.slice(0, 20).map((s) => `job ${s.id} ${s.task}, lease of ${s.leaseOwner} expired ${formatDuration(s.leaseExpiredMsAgo)} ago`)].join('\n')
      : 'none',
  });
}

function pick(w: { workerId: string; hostname: string; pid: number; concurrency: number; lastSeenAt: number }): Omit<Report['workers'][number], 'stale'> {
  return { workerId: w.workerId, hostname: w.hostname, pid: w.pid, concurrency: w.concurrency, lastSeenAt: w.lastSeenAt };
}

async function loopCheck(): Promise<Check> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  await sleep(LOOP_SAMPLE_MS);
  h.disable();
  const p99 = h.percentile(99) / 1e6;
  const max = h.max / 1e6;
  return {
    name: 'event loop',
    status: p99 > LOOP_WARN_MS ? 'warn' : 'ok',
    detail: `delay over ${LOOP_SAMPLE_MS} ms: p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms${p99 > LOOP_WARN_MS ? ' (this machine is overloaded)' : ''}`,
  };
}

async function tsxCheck(): Promise<Check> {
  try {
    const mod = (await import('tsx/esm/api')) as { register?: unknown };
    if (typeof mod.register !== 'function') throw new Error('tsx/esm/api has no register()');
    return { name: 'tsx loader', status: 'ok', detail: 'available (TypeScript tasks modules load)' };
  } catch (err) {
    return { name: 'tsx loader', status: 'fail', detail: `unavailable: ${errorMessage(err)} (TypeScript tasks modules cannot load; install tsx or use .js)` };
  }
}

function render(report: Report): string {
  const mark: Record<Status, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  const width = Math.max(...report.checks.map((c) => c.name.length));
  // Multi-line details continue under the detail column.
  const pad = `\n${' '.repeat(width + 8)}`;
  const lines = report.checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail.split('\n').map((l) => l.trim()).join(pad)}`);
  lines.push('', report.ok ? 'all checks passed' : `${report.checks.filter((c) => c.status === 'fail').length} check(s) failed`);
  return lines.join('\n');
}
