/**
 * Every error Vigil raises is a VigilError with a stable `code` users can match on, a message that says what to
 * do, and the underlying `cause` attached. One module, one list: grep for a code here to find where it comes from.
 */
export class VigilError extends Error {
    code;
    constructor(code, message, options) {
        super(message, options);
        this.name = 'VigilError';
        this.code = code;
    }
}
/** Input the caller can fix (CLI exit code 2, HTTP 400). */
export class UsageError extends VigilError {
    constructor(code, message, options) {
        super(code, message, options);
        this.name = 'UsageError';
    }
}
export class TaskDefinitionError extends UsageError {
    task;
    option;
    constructor(task, option, problem, cause) {
        super('VIGIL_INVALID_TASK_OPTION', `task "${task}": option "${option}" ${problem}`, { cause });
        this.task = task;
        this.option = option;
        this.name = 'TaskDefinitionError';
    }
}
export class StoreUnavailableError extends VigilError {
    constructor(message, cause) {
        super('VIGIL_STORE_UNAVAILABLE', message, { cause });
        this.name = 'StoreUnavailableError';
    }
}
export class JobNotFoundError extends UsageError {
    jobId;
    constructor(jobId) {
        super('VIGIL_JOB_NOT_FOUND', `job ${jobId} does not exist in this store (check the id and --store)`);
        this.jobId = jobId;
        this.name = 'JobNotFoundError';
    }
}
/**
 * Throw this from a task to fail the job at once, without retries: for input that can never succeed.
 *
 *   throw new NonRetryableError('the file is not a WAV file', { cause: err })
 */
export class NonRetryableError extends Error {
    retryable = false;
    code = 'VIGIL_NON_RETRYABLE';
    constructor(message, options) {
        super(message, options);
        this.name = 'NonRetryableError';
    }
}
/** Raised inside a parent by `ctx.all` when its child policy fails; the attempt ends with kind `children`. */
export class ChildrenFailedError extends Error {
    failed;
    code = 'VIGIL_CHILDREN_FAILED';
    vigilKind = 'children';
    retryable = false;
    constructor(message, failed) {
        super(message);
        this.failed = failed;
        this.name = 'ChildrenFailedError';
    }
}
export function errorMessage(err) {
    return err instanceof Error ? err.message : String(err);
}
//# sourceMappingURL=errors.js.map