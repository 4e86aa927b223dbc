import { TaskDefinitionError, UsageError } from '../errors.js';
import type { ChildOutcome, ChildPolicy, Json, RetryPolicy } from '../types.js';
import { DURATION_FORMS, parseDuration, type Duration } from './duration.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export type Isolation = 'thread' | 'process';

export interface RetryOptions {
  /** Retries after the first attempt. */
  max: number;
  backoff?: Duration;
  factor?: number;
  maxDelay?: Duration;
  /** 0..1, the share of each delay that is randomised. */
  jitter?: number;
}

export interface AutoTimeoutOptions {
  auto: true;
  min: Duration;
  max: Duration;
  /** Succeeded runs needed before the learned value is used (default 20). */
  after?: number;
  /** Multiplier on the p99 of recent durations (default 3). */
  factor?: number;
}

/** A learned timeout, resolved: the bounds and the rule. */
export interface AutoTimeout {
  minMs: number;
  maxMs: number;
  after: number;
  factor: number;
}

interface CommonOptions {
  name: string;
  /**
   * Per attempt. Always set: defaults to 30m. `{ auto: true, min, max }` learns it from the task's recent succeeded
   * runs (p99 × factor, bounded by min and max) once `after` runs succeeded; until then it is `max`.
   */
  timeout?: Duration | AutoTimeoutOptions;
  /** Abort → kill. Defaults to 5s. */
  grace?: Duration;
  /** A task that declares it must call ctx.heartbeat() at least this often, or it is `stalled`. */
  heartbeat?: Duration;
  /** Over all attempts of a job, from submission. */
  deadline?: Duration;
  /** Retries after the first attempt (default 2), or a full policy. */
  retries?: number | RetryOptions;
  memoryMb?: number;
  /** At most this many attempts of the task at once in one worker. */
  concurrency?: number;
  /**
   * At most `max` attempts started per `per`, across all workers sharing the store; with `key`, per bucket (e.g.
   * per tenant). A limited job waits `queued` (see docs/rate-limits.md).
   */
  rateLimit?: { max: number; per: Duration; key?: (input: never) => string };
  /** Retention of this task's finished jobs and logs, e.g. { succeeded: '7d', failed: '30d', logs: '3d' } (docs/retention.md). */
  keep?: KeepOptions;
}

export interface KeepOptions {
  succeeded?: Duration;
  failed?: Duration;
  cancelled?: Duration;
  logs?: Duration;
}

export interface ResolvedKeep {
  succeededMs: number | null;
  failedMs: number | null;
  cancelledMs: number | null;
  logsMs: number | null;
}

export interface FunctionTaskOptions<I, O> extends CommonOptions {
  /** A Standard Schema (zod, valibot, arktype…) the input must pass at submit; the job stores its output. */
  input?: StandardSchemaV1<unknown, I>;
  isolation?: Isolation;
  /** Its return value is the job's result (JSON); a run that returns nothing gives the result null. */
  run: (input: I, ctx: TaskContext) => O | void | Promise<O | void>;
}

export type StdinOption = 'closed' | 'open' | { text: string };

export interface CommandTaskOptions<I> extends CommonOptions {
  /** A Standard Schema (zod, valibot, arktype…) the input must pass at submit; the job stores its output. */
  input?: StandardSchemaV1<unknown, I>;
  /** The argument vector. Never a shell string: to use a shell, say so: ['sh', '-c', script]. */
  command: (input: I) => string[];
  cwd?: string;
  env?: Record<string, string>;
  /** 'closed' (default: the program reads end-of-file), 'open' (an empty pipe kept open), or text written then closed. */
  stdin?: StdinOption | ((input: I) => StdinOption);
  /** No output on stdout or stderr for this long → `stalled`. */
  silence?: Duration;
  /**
   * How the job's result is read: 'exit' (default: `{ exitCode: 0 }`), 'last-line' (the last stdout line, parsed
   * as JSON), or 'file' (the JSON the program wrote to the path in $VIGIL_RESULT_FILE).
   */
  result?: 'exit' | 'last-line' | 'file';
  /**
   * Python stacks in hang reports (default true): a `sitecustomize` on PYTHONPATH arms faulthandler in the
   * program's Python processes so a hang report shows the file and line of each thread. false turns it off.
   */
  pythonStacks?: boolean;
}

export interface ResolvedOptions {
  name: string;
  kind: 'function' | 'command';
  isolation: Isolation;
  /** The timeout; for a learned one (autoTimeout), its upper bound, used until enough runs succeeded. */
  timeoutMs: number;
  autoTimeout: AutoTimeout | null;
  graceMs: number;
  heartbeatMs: number | null;
  silenceMs: number | null;
  deadlineMs: number | null;
  retry: RetryPolicy;
  memoryMb: number | null;
  concurrency: number | null;
  /** The key function stays on the definition (`rateKey`): options cross threads, functions do not. */
  rateLimit: { max: number; perMs: number; keyed: boolean } | null;
  keep: ResolvedKeep | null;
}

export interface FunctionTask<I = Json, O = Json> {
  readonly __vigilTask: true;
  readonly options: ResolvedOptions;
  readonly rateKey?: (input: Json) => string;
  // Method syntax on purpose: makes a FunctionTask<{ a: number }> assignable to TaskDefinition<unknown>.
  run(input: I, ctx: TaskContext): O | void | Promise<O | void>;
  readonly command?: undefined;
  /** The `input` schema, checked at submit when the tasks module is loaded. */
  readonly inputSchema?: StandardSchemaV1 | undefined;
  /** Phantom field carrying the input/output types for `spawn` and `submit`. */
  readonly __types?: { input: I; output: O };
}

export interface CommandTask<I = Json> {
  readonly __vigilTask: true;
  readonly options: ResolvedOptions;
  readonly rateKey?: (input: Json) => string;
  readonly run?: undefined;
  command(input: I): string[];
  readonly cwd: string | undefined;
  readonly env: Record<string, string> | undefined;
  stdin: StdinOption | ((input: I) => StdinOption);
  readonly result: 'exit' | 'last-line' | 'file';
  /** The `input` schema, checked at submit when the tasks module is loaded. */
  readonly inputSchema?: StandardSchemaV1 | undefined;
  readonly pythonStacks: boolean;
  readonly __types?: { input: I; output: Json };
}

export type TaskDefinition<I = unknown, O = unknown> = FunctionTask<I, O> | CommandTask<I>;

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  stdin?: StdinOption;
  /** Defaults to the rest of the attempt's timeout. */
  timeout?: Duration;
  /** Throw when the program exits non-zero (default true). */
  check?: boolean;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  /** The last 64 KiB of each stream; everything also goes to the job's log. */
  stdout: string;
  stderr: string;
}

/** A child job created by `ctx.spawn`; pass it to `ctx.all`. */
export interface ChildRef<O = Json> {
  readonly key: string;
  readonly task: string;
  readonly __output?: O;
}

export interface TaskContext {
  readonly jobId: string;
  readonly attempt: number;
  /**
   * A fencing token for side effects: it only grows across the attempts of this job, so an external system that
   * remembers the highest token it has seen can refuse writes from an older (zombie) attempt.
   */
  readonly fence: number;
  /**
   * Asks the store whether this attempt still holds the job (its lease is valid and no newer attempt took over).
   * Check it right before making output visible (e.g. before renaming a temporary file into place): a zombie
   * attempt whose lease was lost gets false and must not publish. See docs/fencing.md.
   */
  isCurrent(): Promise<boolean>;
  readonly task: string;
  /** Fires on timeout, stall, cancellation, deadline or shutdown: stop soon, the attempt is killed after `grace`. */
  readonly signal: AbortSignal;
  heartbeat(details?: Json): void;
  progress(value: number | { done: number; total: number }, message?: string): void;
  log(...args: unknown[]): void;
  /** A durable child job keyed by (this job, key). Defaults the key to the call's index in this attempt. */
  spawn<I, O>(task: string | TaskDefinition<I, O>, input: I, options?: { key?: string }): ChildRef<O>;
  /**
   * Waits for children, giving this job's concurrency slot back while it waits. Throws ChildrenFailedError
   * (kind `children`) when the policy fails.
   */
  all<O>(children: ReadonlyArray<ChildRef<O>>, options?: { policy?: ChildPolicy }): Promise<ChildOutcome<O>[]>;
  /** Runs a program under the same supervision as a command task: its whole tree dies with this attempt. */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
}

const COMMON_KEYS = ['name', 'input', 'timeout', 'grace', 'heartbeat', 'deadline', 'retries', 'memoryMb', 'concurrency', 'rateLimit', 'keep'];
const FUNCTION_KEYS = new Set([...COMMON_KEYS, 'isolation', 'run']);
const COMMAND_KEYS = new Set([...COMMON_KEYS, 'command', 'cwd', 'env', 'stdin', 'silence', 'result', 'pythonStacks']);

/**
 * The longest timeout, deadline, heartbeat, grace or retry delay a task may declare. Timers of any length work
 * (they are chained past setTimeout's 2^31-1 ms); past a year a duration is far more likely a typo than a plan.
 */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

export const DEFAULTS = {
  timeoutMs: 30 * 60_000,
  graceMs: 5_000,
  retries: 2,
  backoffMs: 1_000,
  factor: 2,
  maxDelayMs: 5 * 60_000,
  jitter: 0.2,
} as const;

export function defineTask<I = Json, O = Json>(options: FunctionTaskOptions<I, O>): FunctionTask<I, O>;
export function defineTask<I = Json>(options: CommandTaskOptions<I>): CommandTask<I>;
export function defineTask(options: FunctionTaskOptions<unknown, unknown> | CommandTaskOptions<unknown>): TaskDefinition {
  if (!options || typeof options !== 'object') {
    throw new UsageError('VIGIL_INVALID_TASK_OPTION', 'defineTask needs an options object: defineTask({ name, run })');
  }
  const name = options.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(name)) {
    throw new UsageError(
      'VIGIL_INVALID_TASK_OPTION',
      `defineTask: "name" must be 1-200 characters of letters, digits, _ . : - (got ${JSON.stringify(name)})`,
    );
  }
  const isCommand = 'command' in options && options.command !== undefined;
  const hasRun = 'run' in options && options.run !== undefined;
  if (isCommand === hasRun) {
    throw new UsageError(
      'VIGIL_INVALID_TASK_OPTION',
      `task "${name}": give exactly one of "run" (a function) or "command" (an argument vector builder); it has ${isCommand ? 'both' : 'neither'}`,
    );
  }
  const allowed = isCommand ? COMMAND_KEYS : FUNCTION_KEYS;
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) {
      throw new TaskDefinitionError(name, key, `is not a known option of a ${isCommand ? 'command' : 'function'} task (known: ${[...allowed].join(', ')})`);
    }
  }
  const resolved = resolveCommon(name, options, isCommand);
  const inputSchema = checkSchema(name, options.input);
  if (isCommand) {
    const o = options as CommandTaskOptions<unknown>;
    if (typeof o.command !== 'function') throw new TaskDefinitionError(name, 'command', 'must be a function (input) => string[]');
    if (o.result !== undefined && !['exit', 'last-line', 'file'].includes(o.result)) {
      throw new TaskDefinitionError(name, 'result', `must be 'exit', 'last-line' or 'file' (got ${JSON.stringify(o.result)})`);
    }
    if (o.stdin !== undefined) checkStdin(name, o.stdin);
    if (o.pythonStacks !== undefined && typeof o.pythonStacks !== 'boolean') {
      throw new TaskDefinitionError(name, 'pythonStacks', `must be true or false (got ${JSON.stringify(o.pythonStacks)})`);
    }
    return Object.freeze({
      __vigilTask: true as const,
      options: resolved,
      command: o.command,
      cwd: o.cwd,
      env: o.env,
      stdin: o.stdin ?? 'closed',
      result: o.result ?? 'exit',
      pythonStacks: o.pythonStacks ?? true,
      rateKey: rateKeyOf(options),
      inputSchema,
    });
  }
  const o = options as FunctionTaskOptions<unknown, unknown>;
  if (typeof o.run !== 'function') throw new TaskDefinitionError(name, 'run', 'must be a function (input, ctx) => result');
  return Object.freeze({ __vigilTask: true as const, options: resolved, run: o.run, rateKey: rateKeyOf(options), inputSchema });
}

function checkSchema(name: string, schema: unknown): StandardSchemaV1 | undefined {
  if (schema === undefined) return undefined;
  const props = schema && (typeof schema === 'object' || typeof schema === 'function') ? (schema as Partial<StandardSchemaV1>)['~standard'] : undefined;
  if (!props || props.version !== 1 || typeof props.validate !== 'function') {
    throw new TaskDefinitionError(name, 'input', 'must be a Standard Schema v1 (a zod, valibot or arktype schema, for example z.object({ path: z.string() }))');
  }
  return schema as StandardSchemaV1;
}

function checkStdin(name: string, stdin: unknown): void {
  if (typeof stdin === 'function' || stdin === 'closed' || stdin === 'open') return;
  if (stdin && typeof stdin === 'object' && typeof (stdin as { text?: unknown }).text === 'string') return;
  throw new TaskDefinitionError(name, 'stdin', `must be 'closed', 'open', { text } or a function of the input (got ${JSON.stringify(stdin)})`);
}

function resolveTimeout(name: string, t: Duration | AutoTimeoutOptions | undefined): { timeoutMs: number; autoTimeout: AutoTimeout | null } {
  if (t === undefined) return { timeoutMs: DEFAULTS.timeoutMs, autoTimeout: null };
  if (typeof t !== 'object' || t === null) return { timeoutMs: duration(name, 'timeout', t, { positive: true }), autoTimeout: null };
  if (t.auto !== true) throw new TaskDefinitionError(name, 'timeout', 'must be a duration or { auto: true, min, max }');
  const minMs = duration(name, 'timeout.min', t.min, { positive: true });
  const maxMs = duration(name, 'timeout.max', t.max, { positive: true });
  if (minMs > maxMs) throw new TaskDefinitionError(name, 'timeout', `min (${t.min}) must not be greater than max (${t.max})`);
  const after = t.after ?? 20;
  if (!Number.isInteger(after) || after < 1) throw new TaskDefinitionError(name, 'timeout.after', `must be an integer ≥ 1 (got ${JSON.stringify(t.after)})`);
  const factor = t.factor ?? 3;
  if (typeof factor !== 'number' || !(factor >= 1)) throw new TaskDefinitionError(name, 'timeout.factor', `must be a number ≥ 1 (got ${JSON.stringify(t.factor)})`);
  return { timeoutMs: maxMs, autoTimeout: { minMs, maxMs, after, factor } };
}

function duration(name: string, option: string, value: unknown, { positive }: { positive: boolean }): number {
  let ms: number;
  try {
    ms = parseDuration(value as string | number, option);
  } catch (err) {
    throw new TaskDefinitionError(name, option, `is not a valid duration: ${JSON.stringify(value)} (use ${DURATION_FORMS})`, err);
  }
  if (positive && ms <= 0) throw new TaskDefinitionError(name, option, `must be greater than 0 (got ${JSON.stringify(value)})`);
  if (ms > MAX_DURATION_MS) {
    throw new TaskDefinitionError(name, option, `is longer than the longest duration Vigil accepts, ${MAX_DURATION_MS / 3_600_000}h (365 days) (got ${JSON.stringify(value)})`);
  }
  return ms;
}

function optionalDuration(name: string, option: string, value: unknown): number | null {
  return value === undefined ? null : duration(name, option, value, { positive: true });
}

function positiveInt(name: string, option: string, value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TaskDefinitionError(name, option, `must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}

function resolveCommon(name: string, o: FunctionTaskOptions<unknown, unknown> | CommandTaskOptions<unknown>, isCommand: boolean): ResolvedOptions {
  const isolation = isCommand ? 'process' : ((o as FunctionTaskOptions<unknown, unknown>).isolation ?? 'thread');
  if (isolation !== 'thread' && isolation !== 'process') {
    throw new TaskDefinitionError(name, 'isolation', `must be 'thread' or 'process' (got ${JSON.stringify(isolation)})`);
  }
  return {
    name,
    kind: isCommand ? 'command' : 'function',
    isolation,
    ...resolveTimeout(name, o.timeout),
    graceMs: o.grace === undefined ? DEFAULTS.graceMs : duration(name, 'grace', o.grace, { positive: false }),
    heartbeatMs: optionalDuration(name, 'heartbeat', o.heartbeat),
    silenceMs: isCommand ? optionalDuration(name, 'silence', (o as CommandTaskOptions<unknown>).silence) : null,
    deadlineMs: optionalDuration(name, 'deadline', o.deadline),
    retry: resolveRetry(name, o.retries),
    memoryMb: positiveInt(name, 'memoryMb', o.memoryMb),
    concurrency: positiveInt(name, 'concurrency', o.concurrency),
    rateLimit: resolveRateLimit(name, o.rateLimit),
    keep: resolveKeep(name, o.keep),
  };
}

function rateKeyOf(o: CommonOptions): ((input: Json) => string) | undefined {
  return o.rateLimit?.key as ((input: Json) => string) | undefined;
}

function resolveRateLimit(name: string, r: CommonOptions['rateLimit']): ResolvedOptions['rateLimit'] {
  if (r === undefined) return null;
  if (typeof r !== 'object' || r === null) throw new TaskDefinitionError(name, 'rateLimit', "must be { max, per, key? }, e.g. { max: 60, per: '1m' }");
  for (const key of Object.keys(r)) {
    if (!['max', 'per', 'key'].includes(key)) throw new TaskDefinitionError(name, `rateLimit.${key}`, 'is not a known rate limit option (known: max, per, key)');
  }
  const max = positiveInt(name, 'rateLimit.max', r.max);
  if (max === null) throw new TaskDefinitionError(name, 'rateLimit.max', 'is required: the most attempts started per window');
  if (r.per === undefined) throw new TaskDefinitionError(name, 'rateLimit.per', "is required: the window, e.g. '1s' or '1m'");
  if (r.key !== undefined && typeof r.key !== 'function') throw new TaskDefinitionError(name, 'rateLimit.key', 'must be a function (input) => string');
  return { max, perMs: longDuration(name, 'rateLimit.per', r.per), keyed: r.key !== undefined };
}

function resolveKeep(name: string, k: KeepOptions | undefined): ResolvedKeep | null {
  if (k === undefined) return null;
  if (typeof k !== 'object' || k === null) throw new TaskDefinitionError(name, 'keep', "must be { succeeded?, failed?, cancelled?, logs? }, e.g. { succeeded: '7d' }");
  for (const key of Object.keys(k)) {
    if (!['succeeded', 'failed', 'cancelled', 'logs'].includes(key)) throw new TaskDefinitionError(name, `keep.${key}`, 'is not a known retention option (known: succeeded, failed, cancelled, logs)');
  }
  const one = (key: keyof KeepOptions): number | null => (k[key] === undefined ? null : longDuration(name, `keep.${key}`, k[key]));
  return { succeededMs: one('succeeded'), failedMs: one('failed'), cancelledMs: one('cancelled'), logsMs: one('logs') };
}

/** Retention and rate windows are often days: accept "7d" (and "2w") on top of the usual durations. */
export function longDuration(name: string, option: string, value: unknown): number {
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(d|w)\s*$/.exec(value) : null;
  if (m) return Math.round(Number(m[1]) * (m[2] === 'd' ? 86_400_000 : 7 * 86_400_000));
  return duration(name, option, value, { positive: true });
}

function resolveRetry(name: string, retries: number | RetryOptions | undefined): RetryPolicy {
  const base = {
    maxAttempts: DEFAULTS.retries + 1,
    backoffMs: DEFAULTS.backoffMs,
    factor: DEFAULTS.factor,
    maxDelayMs: DEFAULTS.maxDelayMs,
    jitter: DEFAULTS.jitter,
  };
  if (retries === undefined) return base;
  if (typeof retries === 'number') {
    if (!Number.isInteger(retries) || retries < 0) throw new TaskDefinitionError(name, 'retries', `must be an integer ≥ 0 (got ${retries})`);
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
  if (!Number.isInteger(retries.max) || retries.max < 0) throw new TaskDefinitionError(name, 'retries.max', `must be an integer ≥ 0 (got ${retries.max})`);
  const factor = retries.factor ?? base.factor;
  if (typeof factor !== 'number' || !(factor >= 1)) throw new TaskDefinitionError(name, 'retries.factor', `must be a number ≥ 1 (got ${factor})`);
  const jitter = retries.jitter ?? base.jitter;
  if (typeof jitter !== 'number' || jitter < 0 || jitter > 1) throw new TaskDefinitionError(name, 'retries.jitter', `must be between 0 and 1 (got ${jitter})`);
  return {
    maxAttempts: retries.max + 1,
    backoffMs: retries.backoff === undefined ? base.backoffMs : duration(name, 'retries.backoff', retries.backoff, { positive: false }),
    factor,
    maxDelayMs: retries.maxDelay === undefined ? base.maxDelayMs : duration(name, 'retries.maxDelay', retries.maxDelay, { positive: false }),
    jitter,
  };
}

export function isTaskDefinition(value: unknown): value is TaskDefinition {
  return typeof value === 'object' && value !== null && (value as { __vigilTask?: unknown }).__vigilTask === true;
}

export { defineSchedule } from '../schedule/define.js';
