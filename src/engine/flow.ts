import type { RateLimit, Store } from '../store/contract.js';
import type { SerializedError } from '../types.js';
import type { KeepOptions } from '../task/define.js';
import type { TaskMap } from '../task/registry.js';
import { loadSchedules } from '../schedule/load.js';
import { ScheduleTicker } from '../schedule/ticker.js';
import { RetentionSweeper, resolveKeep } from './retention.js';

export interface FlowOptions {
  store: Store;
  tasks: TaskMap;
  tasksModule: string;
  /** Global retention (tasks with their own `keep` use theirs). */
  keep?: KeepOptions;
  onError: (message: string, error: unknown) => void;
}

/** The rate limits a worker passes with each claim, from its task definitions; undefined when none. */
export function rateLimitsOf(tasks: TaskMap): Record<string, RateLimit> | undefined {
  const out: Record<string, RateLimit> = {};
  for (const [name, t] of tasks) {
    const r = t.options.rateLimit;
    if (r) out[name] = { max: r.max, perMs: r.perMs, key: t.rateKey };
  }
  return Object.keys(out).length ? out : undefined;
}

/** What a worker runs besides claiming: the schedule ticker and the retention sweeper. */
export class FlowControl {
  private ticker: ScheduleTicker | null = null;
  private sweeper: RetentionSweeper | null = null;

  constructor(private readonly options: FlowOptions) {}

  async start(): Promise<void> {
    const { store, tasks, tasksModule, onError } = this.options;
    const schedules = await loadSchedules(tasksModule, tasks);
    this.ticker = new ScheduleTicker({ store, schedules, tasks, onError });
    this.ticker.start();
    this.sweeper = new RetentionSweeper({ store, tasks, keep: this.options.keep ? resolveKeep(this.options.keep) : null, onError });
    this.sweeper.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.ticker?.stop(), this.sweeper?.stop()]);
  }
}

/** A RetryAfterError as it arrives from an executor (serialized: matched by code, never by class or message). */
export function retryAfterOf(error: SerializedError): { delayMs: number; pauseTask: boolean } | null {
  if (error.code !== 'VIGIL_RETRY_AFTER') return null;
  const d = error.details;
  const delayMs = typeof d?.retryAfterMs === 'number' && Number.isFinite(d.retryAfterMs) ? Math.max(0, d.retryAfterMs) : 1_000;
  return { delayMs, pauseTask: d?.pauseTask === true };
}
