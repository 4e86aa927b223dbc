import { hostname } from 'node:os';
import { StoreUnavailableError, errorMessage } from '../../errors.js';
import type { Store } from '../../store/contract.js';
import { migrationsDir, latestVersion } from '../../store/migrate.js';
import { openStore } from '../../store/open.js';
import { liveness } from '../liveness.js';
import { evaluate } from './checks.js';
import type { DoctorCheck, DoctorReport } from './report.js';

export interface DiagnoseOptions {
  graceMs: number;
  windowMs: number;
  /** Delete the records of lost workers before checking (after a human dealt with them). */
  forgetLost?: boolean;
}

const LIST_LIMIT = 1_000;

/** Opens the store, reads one snapshot, and judges it. Never throws for what it is there to report. */
export async function diagnose(url: string, options: DiagnoseOptions): Promise<DoctorReport> {
  const report: DoctorReport = {
    version: 1,
    ok: true,
    checkedAt: new Date().toISOString(),
    store: { description: url, reachable: false, schemaVersion: null, expectedSchemaVersion: null },
    checks: [nodeCheck()],
    workers: [],
    queues: [],
    expiredLeases: [],
    pastDeadline: [],
    settledParents: [],
    hangs: [],
    freezes: [],
  };
  let store: Store | null = null;
  try {
    store = await openStore(url, { create: false });
  } catch (err) {
    // A malformed URL is a usage error (exit 2); a store that will not open is what doctor is here to report.
    if (!(err instanceof StoreUnavailableError)) throw err;
    report.checks.push({ id: 'store', status: 'fail', summary: errorMessage(err), action: 'make the store reachable (is the database up, the path writable, --store right?)', details: [] });
  }
  if (store) {
    try {
      await storeChecks(store, report, options);
    } finally {
      await store.close().catch(() => undefined);
    }
  }
  report.checks.push(await tsxCheck());
  report.ok = report.checks.every((c) => c.status !== 'fail');
  return report;
}

async function storeChecks(store: Store, report: DoctorReport, options: DiagnoseOptions): Promise<void> {
  report.store.description = store.description;
  const expected = latestVersion(migrationsDir(store.kind));
  report.store.expectedSchemaVersion = expected;
  try {
    // A write and a read back, through a table no job reads: a read-only or full store fails here, not in a job.
    const workerId = `doctor:${hostname()}:${process.pid}`;
    const started = performance.now();
    await store.registerWorker({ workerId, hostname: hostname(), pid: process.pid, concurrency: 0, tasks: [] });
    await store.unregisterWorker(workerId);
    const ms = performance.now() - started;
    if (options.forgetLost) {
      const now = await store.now();
      for (const w of await store.listWorkers()) if (liveness(w, now).state === 'lost') await store.unregisterWorker(w.workerId);
    }
    const snapshot = await store.opsSnapshot({ sinceMs: (await store.now()) - options.windowMs, limit: LIST_LIMIT });
    report.store.reachable = true;
    report.store.schemaVersion = snapshot.schemaVersion;
    report.checks.push({ id: 'store', status: 'ok', summary: `${store.description} reachable; write and read back in ${ms.toFixed(1)} ms`, action: null, details: [] });
    const judged = evaluate(snapshot, { graceMs: options.graceMs, windowMs: options.windowMs, expectedSchemaVersion: expected });
    Object.assign(report, judged, { checks: [...report.checks, ...judged.checks] });
  } catch (err) {
    report.checks.push({ id: 'store', status: 'fail', summary: `${store.description}: ${errorMessage(err)}`, action: 'make the store reachable and writable, then run doctor again', details: [] });
  }
}

function nodeCheck(): DoctorCheck {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 20
    ? { id: 'node', status: 'ok', summary: process.version, action: null, details: [] }
    : { id: 'node', status: 'fail', summary: `${process.version}: Vigil needs Node ≥ 20`, action: 'install Node 20 or newer', details: [] };
}

async function tsxCheck(): Promise<DoctorCheck> {
  try {
    const mod = (await import('tsx/esm/api')) as { register?: unknown };
    if (typeof mod.register !== 'function') throw new Error('tsx/esm/api has no register()');
    return { id: 'tsx', status: 'ok', summary: 'available (TypeScript tasks modules load)', action: null, details: [] };
  } catch (err) {
    return { id: 'tsx', status: 'fail', summary: `unavailable: ${errorMessage(err)}`, action: 'install tsx next to Vigil, or write the tasks module in .js', details: [] };
  }
}
