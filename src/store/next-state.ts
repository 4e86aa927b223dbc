import { retryDelayMs } from '../task/retry.js';
import { RETRYABLE_KINDS, type Json, type RetryPolicy, type SerializedError } from '../types.js';
import type { AttemptFinish } from './contract.js';
import { cancelledError, deadlineError } from './store-errors.js';

/**
 * A job's next state after an attempt (DESIGN G9): the ONE place that decides retry-when, fail, cancel and
 * deadline. Both stores call it inside the transaction that locked the job row (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: SELECT … FOR UPDATE), for an attempt the engine finished (`finishAttempt`) and for one whose lease
 * expired (`recoverExpired`), then write its result with fenced statements. It lives with the stores, not the
 * engine, because the stores are its only callers: the engine reports what happened and reads back the decision.
 *
 * Pure: the row, the outcome, the job's STORED retry policy and the store's clock in, the decision out. The stored
 * policy (not the worker's in-memory definition) is used so that a deploy changing `retries` mid-flight can not
 * give different answers on different paths.
 */

/** What the decision reads from the locked job row. */
export interface JobFacts {
  chargedAttempts: number;
  deadlineAt: number | null;
  cancelRequested: boolean;
  cancelReason: string | null;
}

export interface NextState {
  state: 'queued' | 'succeeded' | 'failed' | 'cancelled';
  /** For `queued`: when the job may run again (store clock). Null otherwise. */
  runAt: number | null;
  /** For `succeeded`: the task's result. */
  result: Json | null;
  /** The job's error (null when it succeeded). The attempt keeps the error it reported. */
  error: SerializedError | null;
  /** Whether this attempt counts against the retry budget. */
  charged: boolean;
  /** The job's charged attempts after this one. */
  chargedAttempts: number;
}

/**
 * The rules, in order:
 * 1. A success ends the job `succeeded` (always charged).
 * 2. An attempt that ended `cancelled` ends the job `cancelled` with that error.
 * 3. A failure is retried when its kind is retryable (error, timeout, stalled, crashed, oom) and the error is not
 *    marked `retryable: false`, and, for a charged attempt, the budget (`maxAttempts`) is not spent. An uncharged
 *    attempt (worker shutdown, a shared host lost for another job) is retried at once and costs nothing; a charged
 *    one after the policy's delay for the attempts charged so far. A RetryAfterError (uncharged, `retryAfterMs`)
 *    is retried after the delay the task asked for.
 * 4. A job whose cancel was requested is never retried nor failed: it ends `cancelled` (the user asked to stop it,
 *    and it did not succeed). The attempt keeps its own outcome.
 * 5. A retry that could not start before the job's deadline (runAt ≥ deadlineAt, including a deadline already
 *    passed) ends the job `failed` with kind `deadline`, the last attempt's error as cause.
 * 6. Otherwise the job is `failed` with the attempt's error.
 */
export function nextState(
  job: JobFacts,
  finish: AttemptFinish,
  policy: RetryPolicy,
  now: number,
  random: () => number = Math.random,
): NextState {
  if (finish.outcome === 'succeeded') {
    return { state: 'succeeded', runAt: null, result: finish.result ?? null, error: null, charged: true, chargedAttempts: job.chargedAttempts + 1 };
  }
  const charged = finish.charged;
  const chargedAttempts = job.chargedAttempts + (charged ? 1 : 0);
  const end = (state: 'failed' | 'cancelled', error: SerializedError): NextState => ({ state, runAt: null, result: null, error, charged, chargedAttempts });
  const error = finish.error;
  if (finish.outcome === 'cancelled') return end('cancelled', error);
  if (job.cancelRequested) return end('cancelled', cancelledError(job.cancelReason ?? 'cancelled', error));
  const retryable = RETRYABLE_KINDS.includes(finish.outcome) && error.retryable !== false;
  if (!retryable || (charged && chargedAttempts >= policy.maxAttempts)) return end('failed', error);
  const runAt = now + (charged ? retryDelayMs(policy, chargedAttempts, random) : (finish.retryAfterMs ?? 0));
  if (job.deadlineAt !== null && runAt >= job.deadlineAt) return end('failed', deadlineError(job.deadlineAt, now, error));
  return { state: 'queued', runAt, result: null, error, charged, chargedAttempts };
}

/** A queued job whose deadline passed before any worker started it: `failed`, kind `deadline` (claim sweeps these). */
export function expiredInQueue(deadlineAt: number, now: number): { state: 'failed'; error: SerializedError } {
  return { state: 'failed', error: deadlineError(deadlineAt, now) };
}
