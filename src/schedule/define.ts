import { Cron } from 'croner';
import { UsageError } from '../errors.js';
import type { TaskDefinition } from '../task/define.js';
import { parseDuration, type Duration } from '../task/duration.js';
import type { Json } from '../types.js';

/**
 * What to do with ticks that passed while no worker ran (or while every worker was busy or down):
 * - 'none': skip them; only a tick that is at most ON_TIME_MS late is enqueued.
 * - 'latest' (default): enqueue the most recent missed tick once, skip the older ones.
 * - 'all': enqueue every missed tick, at most `maxCatchUp` (the most recent ones).
 */
export type CatchUp = 'none' | 'latest' | 'all';

export interface ScheduleOptions<I = Json> {
  /** Unique across the store: the schedule's ticks are keyed by it. */
  name: string;
  /** Five fields (minute precision) or six (with seconds), e.g. every five minutes: '*\/5 * * * *'. */
  cron?: string;
  /** A fixed interval, aligned to the epoch so every worker agrees on the ticks: '10m', '1h', 30_000. */
  every?: Duration;
  task: string | TaskDefinition<I, unknown>;
  input?: I;
  /** IANA time zone of the cron fields ('Europe/Paris'). Default UTC. */
  timezone?: string;
  catchUp?: CatchUp;
  /** Bound of catchUp 'all'. Default 100. */
  maxCatchUp?: number;
}

export interface ScheduleDefinition {
  readonly __vigilSchedule: true;
  readonly name: string;
  readonly task: string;
  readonly input: Json;
  readonly cron: string | null;
  readonly everyMs: number | null;
  readonly timezone: string;
  readonly catchUp: CatchUp;
  readonly maxCatchUp: number;
}

/** A late tick within this much is still "on time" (catchUp 'none'): a ticker is never exactly punctual. */
export const ON_TIME_MS = 2_000;

const KEYS = new Set(['name', 'cron', 'every', 'task', 'input', 'timezone', 'catchUp', 'maxCatchUp']);

function bad(name: string, option: string, problem: string, cause?: unknown): never {
  throw new UsageError('VIGIL_INVALID_SCHEDULE', `schedule "${name}": option "${option}" ${problem}`, { cause });
}

/** A schedule, exported from the tasks module next to the tasks: every worker that loads the module ticks it. */
export function defineSchedule<I = Json>(options: ScheduleOptions<I>): ScheduleDefinition {
  if (!options || typeof options !== 'object') throw new UsageError('VIGIL_INVALID_SCHEDULE', 'defineSchedule needs an options object: defineSchedule({ name, every, task })');
  const name = options.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(name)) {
    throw new UsageError('VIGIL_INVALID_SCHEDULE', `defineSchedule: "name" must be 1-200 characters of letters, digits, _ . : - (got ${JSON.stringify(name)})`);
  }
  for (const key of Object.keys(options)) if (!KEYS.has(key)) bad(name, key, `is not a known schedule option (known: ${[...KEYS].join(', ')})`);
  if ((options.cron === undefined) === (options.every === undefined)) bad(name, 'cron', 'a schedule needs exactly one of "cron" or "every"');
  const timezone = options.timezone ?? 'UTC';
  let cron: string | null = null;
  if (options.cron !== undefined) {
    if (typeof options.cron !== 'string') bad(name, 'cron', `must be a cron expression string (got ${JSON.stringify(options.cron)})`);
    try {
      new Cron(options.cron, { timezone });
    } catch (err) {
      bad(name, 'cron', `is not a valid cron expression or time zone: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    cron = options.cron;
  }
  let everyMs: number | null = null;
  if (options.every !== undefined) {
    try {
      everyMs = parseDuration(options.every, 'every');
    } catch (err) {
      bad(name, 'every', `is not a valid duration: ${JSON.stringify(options.every)} (use "30s", "10m", "1h" or milliseconds)`, err);
    }
    if (everyMs < 1_000) bad(name, 'every', `must be at least 1s (got ${JSON.stringify(options.every)})`);
  }
  const task = typeof options.task === 'string' ? options.task : options.task?.options?.name;
  if (typeof task !== 'string' || task.length === 0) bad(name, 'task', 'must be a task name or the value returned by defineTask');
  const catchUp = options.catchUp ?? 'latest';
  if (!['none', 'latest', 'all'].includes(catchUp)) bad(name, 'catchUp', `must be 'none', 'latest' or 'all' (got ${JSON.stringify(catchUp)})`);
  const maxCatchUp = options.maxCatchUp ?? 100;
  if (!Number.isInteger(maxCatchUp) || maxCatchUp < 1 || maxCatchUp > 10_000) bad(name, 'maxCatchUp', `must be an integer from 1 to 10000 (got ${JSON.stringify(maxCatchUp)})`);
  let input: Json;
  try {
    input = JSON.parse(JSON.stringify(options.input ?? null)) as Json;
  } catch (err) {
    bad(name, 'input', 'must be JSON-serializable', err);
  }
  return Object.freeze({ __vigilSchedule: true as const, name, task, input, cron, everyMs, timezone, catchUp, maxCatchUp });
}

export function isScheduleDefinition(value: unknown): value is ScheduleDefinition {
  return typeof value === 'object' && value !== null && (value as { __vigilSchedule?: unknown }).__vigilSchedule === true;
}

/** What the store keeps of a definition (shown by `vigil schedules`). */
export function scheduleSpec(s: ScheduleDefinition): Json {
  return { cron: s.cron, everyMs: s.everyMs, timezone: s.timezone, catchUp: s.catchUp, maxCatchUp: s.maxCatchUp, input: s.input };
}
