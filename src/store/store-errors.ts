import type { SerializedError } from '../types.js';

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
 * The error of a queued job cancelled before it ran, or of a job whose cancel was requested and whose attempt then
 * ended some other way (that attempt's error is the cause).
 */
export function cancelledError(reason: string, last?: SerializedError | null): SerializedError {
  const err: SerializedError = { kind: 'cancelled', message: reason || 'cancelled', retryable: false };
  if (last) err.cause = last;
  return err;
}
