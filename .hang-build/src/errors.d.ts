/**
 * Every error Vigil raises is a VigilError with a stable `code` users can match on, a message that says what to
 * do, and the underlying `cause` attached. One module, one list: grep for a code here to find where it comes from.
 */
export type ErrorCode = 'VIGIL_INVALID_TASK_OPTION' | 'VIGIL_INVALID_DURATION' | 'VIGIL_UNKNOWN_TASK' | 'VIGIL_DUPLICATE_TASK' | 'VIGIL_TASKS_MODULE_LOAD' | 'VIGIL_INVALID_INPUT' | 'VIGIL_PAYLOAD_TOO_LARGE' | 'VIGIL_STORE_UNAVAILABLE' | 'VIGIL_STORE_URL' | 'VIGIL_JOB_NOT_FOUND' | 'VIGIL_INVALID_STATE' | 'VIGIL_LEASE_LOST' | 'VIGIL_WAIT_TIMEOUT' | 'VIGIL_CLOSED' | 'VIGIL_USAGE' | 'VIGIL_EXEC_NOT_FOUND' | 'VIGIL_EXEC_NOT_EXECUTABLE' | 'VIGIL_EXEC_FAILED' | 'VIGIL_CHILDREN_FAILED' | 'VIGIL_NON_RETRYABLE' | 'VIGIL_INTERNAL';
export declare class VigilError extends Error {
    readonly code: ErrorCode;
    constructor(code: ErrorCode, message: string, options?: {
        cause?: unknown;
    });
}
/** Input the caller can fix (CLI exit code 2, HTTP 400). */
export declare class UsageError extends VigilError {
    constructor(code: ErrorCode, message: string, options?: {
        cause?: unknown;
    });
}
export declare class TaskDefinitionError extends UsageError {
    readonly task: string;
    readonly option: string;
    constructor(task: string, option: string, problem: string, cause?: unknown);
}
export declare class StoreUnavailableError extends VigilError {
    constructor(message: string, cause?: unknown);
}
export declare class JobNotFoundError extends UsageError {
    readonly jobId: string;
    constructor(jobId: string);
}
/**
 * Throw this from a task to fail the job at once, without retries: for input that can never succeed.
 *
 *   throw new NonRetryableError('the file is not a WAV file', { cause: err })
 */
export declare class NonRetryableError extends Error {
    readonly retryable: false;
    readonly code = "VIGIL_NON_RETRYABLE";
    constructor(message: string, options?: {
        cause?: unknown;
    });
}
/** Raised inside a parent by `ctx.all` when its child policy fails; the attempt ends with kind `children`. */
export declare class ChildrenFailedError extends Error {
    readonly failed: ReadonlyArray<{
        jobId: string;
        key: string;
        kind: string;
        message: string;
    }>;
    readonly code = "VIGIL_CHILDREN_FAILED";
    readonly vigilKind: "children";
    readonly retryable: false;
    constructor(message: string, failed: ReadonlyArray<{
        jobId: string;
        key: string;
        kind: string;
        message: string;
    }>);
}
export declare function errorMessage(err: unknown): string;
