import type { Worker, WorkerEvent } from '../engine/worker.js';
import type { NewFreeze, Store } from '../store/contract.js';
import type { ErrorKind, HangReport } from '../types.js';
import { liveness } from './liveness.js';
import { HANG_OUTCOMES } from './kinds.js';

/**
 * What `vigil.onHang(listener)` and `--webhook URL` receive (the webhook gets it as the JSON body). `type` tells the
 * cases apart; the shape of each is documented in docs/operations.md and only grows.
 */
export type OpsAlert =
  | {
      type: 'hang';
      /** timeout, stalled (no heartbeat or output) or oom. */
      kind: ErrorKind;
      at: string;
      message: string;
      job: { id: string; task: string; attempt: number; retrying: boolean };
      workerId: string;
      /** Where it hung (null when it could not be read back from the store in time). */
      hangReport: HangReport | null;
    }
  | { type: 'worker_lost'; at: string; message: string; worker: { workerId: string; hostname: string; pid: number; lastSeenAt: string; silentMs: number }; workerId: string }
  | { type: 'supervisor_frozen'; at: string; message: string; workerId: string; freeze: NewFreeze };

export type AlertListener = (alert: OpsAlert) => void;

/** Only workers that went lost this recently are announced (not every dead record of the past, at each start). */
const RECENTLY_LOST_MS = 60_000;

/**
 * Turns a worker's events into alerts: hangs (after the outcome is stored, with its hang report) and other workers
 * of the store going lost. Never blocks the engine: every store read here is fire-and-forget with its own errors
 * swallowed (an alert is not worth a failed job).
 */
export function watchAlerts(worker: Worker, store: Store, emit: AlertListener, options: { lostCheckMs?: number; wanted?: () => boolean } = {}): () => void {
  const wanted = options.wanted ?? (() => true);
  const tasks = new Map<string, string>();
  const onEvent = (event: WorkerEvent): void => {
    if (event.type === 'started') tasks.set(`${event.jobId}:${event.attempt}`, event.task);
    if (event.type !== 'finished') return;
    const key = `${event.jobId}:${event.attempt}`;
    const task = tasks.get(key) ?? 'unknown';
    tasks.delete(key);
    if (!HANG_OUTCOMES.has(event.outcome) || !wanted()) return;
    const kind = event.outcome as ErrorKind;
    void store
      .attempts(event.jobId)
      .then((all) => all.find((a) => a.attempt === event.attempt) ?? null)
      .catch(() => null)
      .then((attempt) =>
        emit({
          type: 'hang',
          kind,
          at: new Date().toISOString(),
          message: `job ${event.jobId} (${task}) attempt ${event.attempt} ended ${kind}: ${attempt?.error?.message ?? 'no message'}${event.retrying ? ' (it will be retried)' : ''}`,
          job: { id: event.jobId, task, attempt: event.attempt, retrying: event.retrying },
          workerId: worker.workerId,
          hangReport: attempt?.hangReport ?? null,
        }),
      );
  };
  worker.on('event', onEvent);

  const announced = new Set<string>();
  const checkLost = async (): Promise<void> => {
    if (!wanted()) return;
    const [now, workers] = await Promise.all([store.now(), store.listWorkers()]);
    for (const w of workers) {
      if (w.workerId === worker.workerId) continue;
      const live = liveness(w, now);
      const key = `${w.workerId}@${w.lastSeenAt}`;
      if (live.state !== 'lost' || announced.has(key) || live.silentMs - live.lostAfterMs > RECENTLY_LOST_MS) continue;
      announced.add(key);
      emit({
        type: 'worker_lost',
        at: new Date().toISOString(),
        message: `worker ${w.workerId} (pid ${w.pid} on ${w.hostname}) has not reported for ${Math.round(live.silentMs / 1000)} s, over its lease: it is lost; its running jobs are re-queued by live workers`,
        worker: { workerId: w.workerId, hostname: w.hostname, pid: w.pid, lastSeenAt: new Date(w.lastSeenAt).toISOString(), silentMs: live.silentMs },
        workerId: worker.workerId,
      });
    }
  };
  const timer = setInterval(() => void checkLost().catch(() => undefined), options.lostCheckMs ?? 2_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    worker.off('event', onEvent);
  };
}

export function freezeAlert(freeze: NewFreeze): OpsAlert {
  const top = freeze.stack[0];
  return {
    type: 'supervisor_frozen',
    at: new Date(freeze.detectedAt).toISOString(),
    message: `the supervisor of worker ${freeze.workerId} was frozen ${freeze.blockedMs} ms${top ? ` in ${top.functionName || '(anonymous)'} (${top.file}:${top.line})` : ''}`,
    workerId: freeze.workerId,
    freeze,
  };
}
