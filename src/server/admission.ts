import type { Store } from '../store/contract.js';
import { HttpError } from './errors.js';

export interface QueueLimits {
  /** Most queued jobs (delayed ones included) across all tasks before submits get 429. */
  total?: number;
  /** Most queued jobs of one task: one number for every task, or per task name. */
  perTask?: number | Record<string, number>;
  /** Sent as Retry-After with a 429. Default 1. */
  retryAfterSeconds?: number;
}

/**
 * Admission control for submits: past a queue limit the server answers 429 with Retry-After instead of taking
 * work it can not run soon (six clients at once must not freeze it). Check and insert are serialised inside this
 * process so concurrent submits can not all pass the same check; several servers on one PostgreSQL store may
 * overshoot by at most one batch each.
 */
export class Admission {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly limits: QueueLimits,
  ) {}

  get active(): boolean {
    return this.limits.total !== undefined || this.limits.perTask !== undefined;
  }

  /** Runs `insert` once the queue has room for `count` jobs per task named; otherwise throws a 429. */
  admit<T>(tasks: string[], insert: () => Promise<T>): Promise<T> {
    if (!this.active) return insert();
    const run = async (): Promise<T> => {
      await this.check(tasks);
      return insert();
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async check(tasks: string[]): Promise<void> {
    const perTask = new Map<string, number>();
    for (const t of tasks) perTask.set(t, (perTask.get(t) ?? 0) + 1);
    for (const [task, adding] of perTask) {
      const depth = await this.store.queueDepth(task);
      const total = this.limits.total;
      if (total !== undefined && depth.total + tasks.length > total) {
        this.full(`the queue holds ${depth.total} jobs and its limit is ${total}`);
      }
      const cap = typeof this.limits.perTask === 'number' ? this.limits.perTask : this.limits.perTask?.[task];
      if (cap !== undefined && depth.task + adding > cap) {
        this.full(`task "${task}" has ${depth.task} queued jobs and its limit is ${cap}`);
      }
    }
  }

  private full(why: string): never {
    const after = this.limits.retryAfterSeconds ?? 1;
    throw new HttpError(429, 'VIGIL_QUEUE_FULL', `queue full: ${why}; retry after ${after}s`, { 'retry-after': String(after) });
  }
}
