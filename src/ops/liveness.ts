import type { WorkerRecord } from '../store/contract.js';

/** For workers registered before lease and report interval were recorded: the engine's defaults then. */
const LEGACY_LEASE_MS = 30_000;
const LEGACY_REPORT_MS = 5_000;

export interface Liveness {
  state: 'live' | 'lost';
  /** How long since the worker last reported (store clock). */
  silentMs: number;
  /** Silent longer than this: lost. */
  lostAfterMs: number;
}

/**
 * A worker reports at least every lease/3 and renews its leases as often; one that has been silent for longer than
 * its lease (plus a margin for a slow store round trip) has lost its leases and with them its jobs, whatever its
 * process is doing: it is lost, not "probably" anything. Its record alone is no evidence that it runs.
 */
export function liveness(worker: WorkerRecord, now: number): Liveness {
  const leaseMs = worker.leaseMs ?? LEGACY_LEASE_MS;
  const reportMs = worker.reportEveryMs ?? LEGACY_REPORT_MS;
  const base = Math.max(leaseMs, reportMs);
  const lostAfterMs = base + Math.max(1_000, Math.round(base * 0.2));
  const silentMs = Math.max(0, now - worker.lastSeenAt);
  return { state: silentMs > lostAfterMs ? 'lost' : 'live', silentMs, lostAfterMs };
}
