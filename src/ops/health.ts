import type { Worker, WorkerEvent } from '../engine/worker.js';
import { errorMessage } from '../errors.js';
import type { Store } from '../store/contract.js';
import { migrationsDir, latestVersion } from '../store/migrate.js';

/** A claim loop that has not turned for this long is not alive (it turns at least every poll, ≤ 5 s). */
const LOOP_DEAD_MS = 30_000;
/** A runnable job of a task this worker serves, waiting this long while it has free slots: the worker is behind. */
const BEHIND_MS = 30_000;
const STORE_TIMEOUT_MS = 2_000;

export interface ReadinessCheck {
  name: 'store' | 'schema' | 'claimLoop' | 'backlog';
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: ReadinessCheck[];
}

/** Remembers when a worker's claim loop last turned (it emits `idle` or `started` on every turn). */
export class LoopTracker {
  private lastTurnAt = Date.now();
  private readonly off: () => void;

  constructor(worker: Worker) {
    const onEvent = (event: WorkerEvent): void => {
      if (event.type === 'idle' || event.type === 'started') this.lastTurnAt = Date.now();
    };
    worker.on('event', onEvent);
    this.off = () => worker.off('event', onEvent);
  }

  get sinceLastTurnMs(): number {
    return Date.now() - this.lastTurnAt;
  }

  close(): void {
    this.off();
  }
}

/** `/healthz`: the process answers. Nothing else is checked, so a slow store never gets a healthy process killed. */
export function liveness(): { status: 'ok'; pid: number; uptimeSeconds: number } {
  return { status: 'ok', pid: process.pid, uptimeSeconds: Math.round(process.uptime()) };
}

/** `/readyz`: store reachable, schema current, claim loop alive and not behind. Each failed check says why. */
export async function readiness(store: Store, worker?: Worker, tracker?: LoopTracker): Promise<Readiness> {
  const checks: ReadinessCheck[] = [];
  let snapshot;
  try {
    snapshot = await withTimeout(store.opsSnapshot({ sinceMs: Number.MAX_SAFE_INTEGER, limit: 1 }), STORE_TIMEOUT_MS);
    checks.push({ name: 'store', ok: true, detail: `${store.description} answered` });
  } catch (err) {
    checks.push({ name: 'store', ok: false, detail: `${store.description} did not answer: ${errorMessage(err)}` });
    return { ready: false, checks };
  }
  const expected = latestVersion(migrationsDir(store.kind));
  checks.push(
    snapshot.schemaVersion >= expected
      ? { name: 'schema', ok: true, detail: `version ${snapshot.schemaVersion}` }
      : { name: 'schema', ok: false, detail: `version ${snapshot.schemaVersion}, this Vigil needs ${expected}: restart a Vigil process to migrate it` },
  );
  if (worker && tracker) {
    const idle = tracker.sinceLastTurnMs;
    checks.push(
      idle <= LOOP_DEAD_MS
        ? { name: 'claimLoop', ok: true, detail: `turned ${idle} ms ago` }
        : { name: 'claimLoop', ok: false, detail: `the claim loop has not turned for ${idle} ms (over ${LOOP_DEAD_MS} ms): the worker is stuck` },
    );
    const served = new Set(snapshot.workers.find((w) => w.workerId === worker.workerId)?.tasks ?? []);
    // A task with running jobs may be at its concurrency cap: its queue waiting is by design, not the worker being
    // behind. Only a task that runs nothing at all while its jobs wait and slots are free proves the worker stuck.
    const waiting = snapshot.queues.filter(
      (q) => served.has(q.task) && q.running === 0 && q.oldestRunnableAt !== null && snapshot.now - q.oldestRunnableAt > BEHIND_MS,
    );
    const behind = worker.slots.free > 0 ? waiting : [];
    checks.push(
      behind.length === 0
        ? { name: 'backlog', ok: true, detail: worker.slots.free > 0 ? 'no runnable job waits while slots are free' : 'all slots busy' }
        : {
            name: 'backlog',
            ok: false,
            detail: `${worker.slots.free} slot(s) free yet ${behind.map((q) => `${q.task} has waited ${Math.round((snapshot.now - q.oldestRunnableAt!) / 1000)} s`).join(', ')}: the worker is not claiming`,
          },
    );
  }
  return { ready: checks.every((c) => c.ok), checks };
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
