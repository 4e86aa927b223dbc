import type { RateLimit, Store } from '../store/contract.js';
import type { SerializedError } from '../types.js';
import type { KeepOptions } from '../task/define.js';
import type { TaskMap } from '../task/registry.js';
import { loadSchedules } from '../schedule/load.js';
import { ScheduleTicker } from '../schedule/ticker.js';
import { RetentionSweeper, resolveKeep, taskKeepsOf } from './retention.js';
import { RetentionThread } from './retention-host.js';
import type { RetentionThreadMessage } from './retention-thread.js';

export interface FlowOptions {
  store: Store;
  tasks: TaskMap;
  tasksModule: string;
  /** Global retention (tasks with their own `keep` use theirs). */
  keep?: KeepOptions;
  onError: (message: string, error: unknown) => void;
  /** After each retention sweep (tests, logs). */
  onSwept?: (result: { jobs: number; logs: number }) => void;
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
  private sweeper: RetentionSweeper | RetentionThread | null = null;

  constructor(private readonly options: FlowOptions) {}

  async start(): Promise<void> {
    const { store, tasks, tasksModule, onError } = this.options;
    const schedules = await loadSchedules(tasksModule, tasks);
    this.ticker = new ScheduleTicker({ store, schedules, tasks, onError });
    this.ticker.start();
    const taskKeeps = taskKeepsOf(tasks);
    const keep = this.options.keep ? resolveKeep(this.options.keep) : null;
    const sweeper = new RetentionSweeper({ store, taskKeeps, keep, onError, onSwept: this.options.onSwept });
    if (!sweeper.active) return;
    const path = store.kind === 'sqlite' ? (store as { path?: unknown }).path : undefined;
    if (typeof path === 'string' && path !== ':memory:') {
      this.sweeper = new RetentionThread({ path, taskKeeps, keep, firstDelayMs: 1_000 }, (m: RetentionThreadMessage) =>
        m.type === 'error' ? onError(m.message, new Error(m.message)) : this.options.onSwept?.(m),
      );
    } else {
      this.sweeper = sweeper;
      sweeper.start();
    }
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
