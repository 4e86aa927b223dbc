import { TaskDefinitionError, UsageError } from '../errors.js';
import { parseDuration } from './duration.js';
const COMMON_KEYS = ['name', 'timeout', 'grace', 'heartbeat', 'deadline', 'retries', 'memoryMb', 'concurrency'];
const FUNCTION_KEYS = new Set([...COMMON_KEYS, 'isolation', 'run']);
const COMMAND_KEYS = new Set([...COMMON_KEYS, 'command', 'cwd', 'env', 'stdin', 'silence', 'result']);
export const DEFAULTS = {
    timeoutMs: 30 * 60_000,
    graceMs: 5_000,
    retries: 2,
    backoffMs: 1_000,
    factor: 2,
    maxDelayMs: 5 * 60_000,
    jitter: 0.2,
};
export function defineTask(options) {
    if (!options || typeof options !== 'object') {
        throw new UsageError('VIGIL_INVALID_TASK_OPTION', 'defineTask needs an options object: defineTask({ name, run })');
    }
    const name = options.name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(name)) {
        throw new UsageError('VIGIL_INVALID_TASK_OPTION', `defineTask: "name" must be 1-200 characters of letters, digits, _ . : - (got ${JSON.stringify(name)})`);
    }
    const isCommand = 'command' in options && options.command !== undefined;
    const hasRun = 'run' in options && options.run !== undefined;
    if (isCommand === hasRun)
        throw new TaskDefinitionError(name, isCommand ? 'run' : 'run', 'a task needs exactly one of "run" (a function) or "command" (an argument vector builder)');
    const allowed = isCommand ? COMMAND_KEYS : FUNCTION_KEYS;
    for (const key of Object.keys(options)) {
        if (!allowed.has(key)) {
            throw new TaskDefinitionError(name, key, `is not a known option of a ${isCommand ? 'command' : 'function'} task (known: ${[...allowed].join(', ')})`);
        }
    }
    const resolved = resolveCommon(name, options, isCommand);
    if (isCommand) {
        const o = options;
        if (typeof o.command !== 'function')
            throw new TaskDefinitionError(name, 'command', 'must be a function (input) => string[]');
        if (o.result !== undefined && !['exit', 'last-line', 'file'].includes(o.result)) {
            throw new TaskDefinitionError(name, 'result', `must be 'exit', 'last-line' or 'file' (got ${JSON.stringify(o.result)})`);
        }
        if (o.stdin !== undefined)
            checkStdin(name, o.stdin);
        return Object.freeze({
            __vigilTask: true,
            options: resolved,
            command: o.command,
            cwd: o.cwd,
            env: o.env,
            stdin: o.stdin ?? 'closed',
            result: o.result ?? 'exit',
        });
    }
    const o = options;
    if (typeof o.run !== 'function')
        throw new TaskDefinitionError(name, 'run', 'must be a function (input, ctx) => result');
    return Object.freeze({ __vigilTask: true, options: resolved, run: o.run });
}
function checkStdin(name, stdin) {
    if (typeof stdin === 'function' || stdin === 'closed' || stdin === 'open')
        return;
    if (stdin && typeof stdin === 'object' && typeof stdin.text === 'string')
        return;
    throw new TaskDefinitionError(name, 'stdin', `must be 'closed', 'open', { text } or a function of the input (got ${JSON.stringify(stdin)})`);
}
function duration(name, option, value, { positive }) {
    let ms;
    try {
        ms = parseDuration(value, option);
    }
    catch (err) {
        throw new TaskDefinitionError(name, option, `is not a valid duration: ${JSON.stringify(value)} (use "250ms", "30s", "5m", "1h" or milliseconds)`, err);
    }
    if (positive && ms <= 0)
        throw new TaskDefinitionError(name, option, `must be greater than 0 (got ${JSON.stringify(value)})`);
    return ms;
}
function optionalDuration(name, option, value) {
    return value === undefined ? null : duration(name, option, value, { positive: true });
}
function positiveInt(name, option, value) {
    if (value === undefined)
        return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
        throw new TaskDefinitionError(name, option, `must be a positive integer (got ${JSON.stringify(value)})`);
    }
    return value;
}
function resolveCommon(name, o, isCommand) {
    const isolation = isCommand ? 'process' : (o.isolation ?? 'thread');
    if (isolation !== 'thread' && isolation !== 'process') {
        throw new TaskDefinitionError(name, 'isolation', `must be 'thread' or 'process' (got ${JSON.stringify(isolation)})`);
    }
    return {
        name,
        kind: isCommand ? 'command' : 'function',
        isolation,
        timeoutMs: o.timeout === undefined ? DEFAULTS.timeoutMs : duration(name, 'timeout', o.timeout, { positive: true }),
        graceMs: o.grace === undefined ? DEFAULTS.graceMs : duration(name, 'grace', o.grace, { positive: false }),
        heartbeatMs: optionalDuration(name, 'heartbeat', o.heartbeat),
        silenceMs: isCommand ? optionalDuration(name, 'silence', o.silence) : null,
        deadlineMs: optionalDuration(name, 'deadline', o.deadline),
        retry: resolveRetry(name, o.retries),
        memoryMb: positiveInt(name, 'memoryMb', o.memoryMb),
        concurrency: positiveInt(name, 'concurrency', o.concurrency),
    };
}
function resolveRetry(name, retries) {
    const base = {
        maxAttempts: DEFAULTS.retries + 1,
        backoffMs: DEFAULTS.backoffMs,
        factor: DEFAULTS.factor,
        maxDelayMs: DEFAULTS.maxDelayMs,
        jitter: DEFAULTS.jitter,
    };
    if (retries === undefined)
        return base;
    if (typeof retries === 'number') {
        if (!Number.isInteger(retries) || retries < 0)
            throw new TaskDefinitionError(name, 'retries', `must be an integer ≥ 0 (got ${retries})`);
        return { ...base, maxAttempts: retries + 1 };
    }
    if (typeof retries !== 'object' || retries === null) {
        throw new TaskDefinitionError(name, 'retries', 'must be a number or { max, backoff, factor, maxDelay, jitter }');
    }
    for (const key of Object.keys(retries)) {
        if (!['max', 'backoff', 'factor', 'maxDelay', 'jitter'].includes(key)) {
            throw new TaskDefinitionError(name, `retries.${key}`, 'is not a known retry option (known: max, backoff, factor, maxDelay, jitter)');
        }
    }
    if (!Number.isInteger(retries.max) || retries.max < 0)
        throw new TaskDefinitionError(name, 'retries.max', `must be an integer ≥ 0 (got ${retries.max})`);
    const factor = retries.factor ?? base.factor;
    if (typeof factor !== 'number' || !(factor >= 1))
        throw new TaskDefinitionError(name, 'retries.factor', `must be a number ≥ 1 (got ${factor})`);
    const jitter = retries.jitter ?? base.jitter;
    if (typeof jitter !== 'number' || jitter < 0 || jitter > 1)
        throw new TaskDefinitionError(name, 'retries.jitter', `must be between 0 and 1 (got ${jitter})`);
    return {
        maxAttempts: retries.max + 1,
        backoffMs: retries.backoff === undefined ? base.backoffMs : duration(name, 'retries.backoff', retries.backoff, { positive: false }),
        factor,
        maxDelayMs: retries.maxDelay === undefined ? base.maxDelayMs : duration(name, 'retries.maxDelay', retries.maxDelay, { positive: false }),
        jitter,
    };
}
export function isTaskDefinition(value) {
    return typeof value === 'object' && value !== null && value.__vigilTask === true;
}
//# sourceMappingURL=define.js.map