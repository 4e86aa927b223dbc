/**
 * Every error Vigil raises is a VigilError with a stable `code` users can match on, a message that says what to
 * do, and the underlying `cause` attached. One module, one list: grep for a code here to find where it comes from.
 */

export type ErrorCode =
  | 'VIGIL_INVALID_TASK_OPTION'
  | 'VIGIL_INVALID_DURATION'
  | 'VIGIL_UNKNOWN_TASK'
  | 'VIGIL_DUPLICATE_TASK'
  | 'VIGIL_TASKS_MODULE_LOAD'
  | 'VIGIL_INVALID_INPUT'
  | 'VIGIL_PAYLOAD_TOO_LARGE'
  | 'VIGIL_STORE_UNAVAILABLE'
  | 'VIGIL_STORE_URL'
  | 'VIGIL_STORE_NOT_FOUND'
  | 'VIGIL_JOB_NOT_FOUND'
  | 'VIGIL_INVALID_STATE'
  | 'VIGIL_LEASE_LOST'
  | 'VIGIL_WAIT_TIMEOUT'
  | 'VIGIL_SNAPSHOT_TIMEOUT'
  | 'VIGIL_CLOSED'
  | 'VIGIL_USAGE'
  | 'VIGIL_EXEC_NOT_FOUND'
  | 'VIGIL_EXEC_NOT_EXECUTABLE'
  | 'VIGIL_EXEC_FAILED'
  | 'VIGIL_CHILDREN_FAILED'
  | 'VIGIL_NON_RETRYABLE'
  | 'VIGIL_INVALID_SCHEDULE'
  | 'VIGIL_RETRY_AFTER'
  | 'VIGIL_INTERNAL';

export class VigilError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

/** Input the caller can fix (CLI exit code 2, HTTP 400). */
export class UsageError extends VigilError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'UsageError';
  }
}

export class TaskDefinitionError extends UsageError {
  constructor(readonly task: string, readonly option: string, problem: string, cause?: unknown) {
    super('VIGIL_INVALID_TASK_OPTION', `task "${task}": option "${option}" ${problem}`, { cause });
    this.name = 'TaskDefinitionError';
  }
}

export class StoreUnavailableError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super('VIGIL_STORE_UNAVAILABLE', message, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export class JobNotFoundError extends UsageError {
  constructor(readonly jobId: string) {
    super('VIGIL_JOB_NOT_FOUND', `job ${jobId} does not exist in this store (check the id and --store)`);
    this.name = 'JobNotFoundError';
  }
}

/** No worker answered a snapshot request (`vigil inspect --now`, POST /api/jobs/:id/snapshot) in time. */
export class SnapshotTimeoutError extends VigilError {
  constructor(readonly jobId: string, timeoutMs: number, workerId: string | null) {
    super(
      'VIGIL_SNAPSHOT_TIMEOUT',
      `no worker answered the snapshot request for job ${jobId} within ${timeoutMs} ms` +
        (workerId ? `: its worker ${workerId} may be frozen or gone (vigil why ${jobId}, vigil workers)` : '') +
        '; the request stays on the job and is answered at the worker’s next lease renewal',
    );
    this.name = 'SnapshotTimeoutError';
  }
}

/**
 * Throw this from a task to fail the job at once, without retries: for input that can never succeed.
 *
 *   throw new NonRetryableError('the file is not a WAV file', { cause: err })
 */
export class NonRetryableError extends Error {
  readonly retryable = false as const;
  readonly code = 'VIGIL_NON_RETRYABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/**
 * Throw this from a task when the outside world says "not now" (an HTTP 429 or 503 with Retry-After): the job goes
 * back to the queue to run after `delay`, and the attempt is NOT charged against its retries. With
 * `pauseTask: true` no job of the task starts anywhere before then (the quota is shared by the whole task).
 *
 *   if (res.status === 429) throw RetryAfterError.fromHeader(res.headers.get('retry-after'), { pauseTask: true })
 */
export class RetryAfterError extends Error {
  readonly code = 'VIGIL_RETRY_AFTER';
  /** Read by the engine from the serialized error (class identity does not cross threads). */
  readonly details: { retryAfterMs: number; pauseTask: boolean };
  constructor(delay: number | Date, options?: { pauseTask?: boolean; message?: string; cause?: unknown }) {
    const ms = delay instanceof Date ? delay.getTime() - Date.now() : delay;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError(`RetryAfterError: delay must be milliseconds or a Date (got ${String(delay)})`);
    const retryAfterMs = Math.max(0, Math.round(ms));
    super(options?.message ?? `retry after ${retryAfterMs} ms`, { cause: options?.cause });
    this.name = 'RetryAfterError';
    this.details = { retryAfterMs, pauseTask: options?.pauseTask === true };
  }

  /** From an HTTP Retry-After value: delta-seconds or an HTTP date; `fallbackMs` (default 1 s) when absent or invalid. */
  static fromHeader(value: string | null | undefined, options?: { pauseTask?: boolean; fallbackMs?: number; message?: string }): RetryAfterError {
    const fallback = options?.fallbackMs ?? 1_000;
    let ms = fallback;
    if (value && /^\s*\d+(\.\d+)?\s*$/.test(value)) ms = Number(value) * 1000;
    else if (value && !Number.isNaN(Date.parse(value))) ms = Date.parse(value) - Date.now();
    return new RetryAfterError(ms, options);
  }
}

/** Raised inside a parent by `ctx.all` when its child policy fails; the attempt ends with kind `children`. */
export class ChildrenFailedError extends Error {
  readonly code = 'VIGIL_CHILDREN_FAILED';
  readonly vigilKind = 'children' as const;
  readonly retryable = false as const;
  constructor(
    message: string,
    readonly failed: ReadonlyArray<{ jobId: string; key: string; kind: string; message: string }>,
  ) {
    super(message);
    this.name = 'ChildrenFailedError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
