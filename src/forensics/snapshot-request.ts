import { setTimeout as delay } from 'node:timers/promises';
import { JobNotFoundError, SnapshotTimeoutError, UsageError } from '../errors.js';
import type { Store } from '../store/contract.js';
import type { AttemptSnapshot } from '../types.js';

/** A snapshot that answered a request, with the attempt it was taken of. */
export interface TakenSnapshot {
  jobId: string;
  attempt: number;
  workerId: string;
  snapshot: AttemptSnapshot;
}

const POLL_MS = 100;

/**
 * The requesting side of `inspect --now` (CLI and HTTP run in other processes than the worker, and executors never
 * touch the store): stamp the job, then wait for a snapshot on its attempt that answers this stamp or a later one.
 */
export async function requestSnapshot(store: Store, jobId: string, options: { timeoutMs?: number } = {}): Promise<TakenSnapshot> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const asked = await store.requestSnapshot(jobId);
  if (!asked) throw new JobNotFoundError(jobId);
  const requestedAt = asked.requestedAt;
  if (requestedAt === null) {
    throw new UsageError('VIGIL_INVALID_STATE', `job ${jobId} is ${asked.state}: only a running job has an attempt to look inside (vigil inspect ${jobId} shows its attempts and hang reports)`);
  }
  const until = Date.now() + timeoutMs;
  let workerId: string | null = null;
  for (;;) {
    const attempts = await store.attempts(jobId);
    const answered = attempts.find((a) => a.snapshot && a.snapshot.requestedAt >= requestedAt);
    if (answered?.snapshot) return { jobId, attempt: answered.attempt, workerId: answered.workerId, snapshot: answered.snapshot };
    const current = attempts.at(-1);
    workerId = current?.workerId ?? null;
    if (current && current.finishedAt !== null) {
      const job = await store.get(jobId);
      if (job && job.state !== 'running') {
        throw new UsageError('VIGIL_INVALID_STATE', `job ${jobId} ended (${job.state}) before its worker took the snapshot: vigil inspect ${jobId} shows how`);
      }
    }
    if (Date.now() >= until) throw new SnapshotTimeoutError(jobId, timeoutMs, workerId);
    await delay(Math.min(POLL_MS, Math.max(1, until - Date.now())));
  }
}
