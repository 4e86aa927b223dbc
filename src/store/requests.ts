import { UsageError } from '../errors.js';
import type { ClaimRequest, Fence, NewJob } from './contract.js';
import { isJobId } from './rows.js';

/** Checks of what callers hand a store, identical for both stores: one place, one set of messages. */

/** Rejects a malformed job of a batch before anything is written (the whole batch is refused). */
export function checkNewJob(j: NewJob, i: number): void {
  const bad = (what: string): never => {
    throw new UsageError('VIGIL_INVALID_INPUT', `job #${i} of the batch: ${what}`);
  };
  if (typeof j.task !== 'string' || j.task === '') bad('"task" must be a non-empty string');
  if (!j.retry || !Number.isInteger(j.retry.maxAttempts) || j.retry.maxAttempts < 1) bad('"retry.maxAttempts" must be an integer ≥ 1');
  if (j.parentId != null && !isJobId(j.parentId)) bad(`"parentId" ${JSON.stringify(j.parentId)} is not a job id`);
  if (j.priority !== undefined && !Number.isInteger(j.priority)) bad('"priority" must be an integer');
  if (j.delayMs !== undefined && !Number.isFinite(j.delayMs)) bad('"delayMs" must be a finite number');
  if (j.deadlineMs != null && !(Number.isFinite(j.deadlineMs) && j.deadlineMs > 0)) bad('"deadlineMs" must be a positive number');
}

/**
 * How many expired leases (recoverExpired) or expired queued deadlines (claim) one store call handles, oldest first;
 * the next call takes the rest. Bounds the time one call holds SQLite's write lock and the supervisor's loop.
 */
export const SWEEP_BATCH = 500;

/** Jobs per list() page: 100 unless asked, never more than 10,000. */
export function listLimit(asked: number | undefined): number {
  return clamp(asked, 100, 10_000);
}

/** Log lines per logs() call: 1,000 unless asked, never more than 20,000. */
export function logLimit(asked: number | undefined): number {
  return clamp(asked, 1_000, 20_000);
}

function clamp(asked: number | undefined, byDefault: number, max: number): number {
  return Math.max(0, Math.min(max, Math.floor(asked ?? byDefault)));
}

/** `items` in the order of `ids` (as getMany and cancel promise), each once, missing ids omitted. */
export function orderByIds<T extends { id: string }>(ids: readonly string[], items: T[]): T[] {
  const byId = new Map(items.map((j) => [j.id, j]));
  const seen = new Set<string>();
  const out: T[] = [];
  for (const id of ids) {
    const item = byId.get(id);
    if (item && !seen.has(id)) {
      seen.add(id);
      out.push(item);
    }
  }
  return out;
}

/** How many of a claim's jobs start at once; the rest are held in the worker's prefetch buffer (ClaimRequest.start). */
export function startCount(req: ClaimRequest): number {
  return Math.max(0, Math.floor(req.start ?? req.limit));
}

/** One attempt of one worker, as a map key (the `held` fences of a lease renewal). */
export function fenceKey(f: Fence): string {
  return `${f.jobId}/${f.attempt}/${f.workerId}`;
}
