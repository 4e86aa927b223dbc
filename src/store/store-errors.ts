import type { SerializedError } from '../types.js';
import type { AttemptFinish } from './contract.js';

/** The errors a store writes by itself (not reported by an attempt): one builder each, used by both stores. */

/** The error a job gets when its deadline passes while it is not running. */
export function deadlineError(deadlineAt: number, now: number, last?: SerializedError | null): SerializedError {
  const when = new Date(deadlineAt).toISOString();
  const err: SerializedError = {
    kind: 'deadline',
    message: last
      ? `the job's deadline (${when}) passes before its next attempt could run; the last attempt ended with ${last.kind}: ${last.message}`
      : `the job's deadline (${when}) passed ${Math.max(0, now - deadlineAt)} ms before a worker could start it; raise the task's "deadline" or add workers`,
    retryable: false,
    details: { deadlineAt },
  };
  if (last) err.cause = last;
  return err;
}

/** The error of an attempt whose lease expired: its worker crashed, was killed, or froze. */
export function leaseLostError(workerId: string | null, leaseExpiresAt: number | null, now: number): SerializedError {
  return {
    kind: 'crashed',
    message: `worker ${workerId ?? '?'} stopped renewing its lease (it crashed, was killed or froze); lease expired ${leaseExpiresAt === null ? '' : `${now - leaseExpiresAt} ms `}before recovery`,
    code: 'VIGIL_LEASE_LOST',
    details: { workerId, leaseExpiresAt },
  };
}

/**
 * How often one job may be recovered uncharged as held (never started). A worker records an attempt's start only
 * at its next lease renewal, so a job that does start and takes its worker down with it (the machine's OOM killer
 * picking the supervisor) looks held; this bound keeps such a job from being run forever for free.
 */
export const HELD_RECOVERIES_MAX = 2;

/** What recovery reports for an attempt whose lease expired: a crash, charged unless it was held (never started). */
export function expiredLeaseFinish(
  r: { lease_owner: string | null; lease_expires_at: number | bigint | string | null; held: boolean | number; held_recoveries: number },
  now: number,
): AttemptFinish & { outcome: 'crashed'; charged: boolean } {
  const expiresAt = r.lease_expires_at === null ? null : Number(r.lease_expires_at);
  const error = leaseLostError(r.lease_owner, expiresAt, now);
  if (!r.held || r.held_recoveries >= HELD_RECOVERIES_MAX) return { outcome: 'crashed', error, charged: true };
  return {
    outcome: 'crashed',
    charged: false,
    error: { ...error, message: `${error.message}; the job was still in that worker's prefetch buffer and never started there (not charged)` },
  };
}

/**
 * The error of a queued job cancelled before it ran, or of a job whose cancel was requested and whose attempt then
 * ended some other way (that attempt's error is the cause).
 */
export function cancelledError(reason: string, last?: SerializedError | null): SerializedError {
  const err: SerializedError = { kind: 'cancelled', message: reason || 'cancelled', retryable: false };
  if (last) err.cause = last;
  return err;
}
