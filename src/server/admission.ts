import type { EnqueueResult, NewJob, Store } from '../store/contract.js';
import { HttpError } from './errors.js';

export interface QueueLimits {
  /** Most queued jobs (delayed ones included) across all tasks before submits get 429. */
  total?: number;
  /** Most queued jobs of one task: one number for every task, or per task name. */
  perTask?: number | Record<string, number>;
  /** Sent as Retry-After with a 429. Default 1. */
  retryAfterSeconds?: number;
}

interface Pending {
  jobs: NewJob[];
  resolve(results: EnqueueResult[]): void;
  reject(err: unknown): void;
}

/** Most submits stored in one transaction. */
const MAX_BATCH = 200;

/**
 * Admission and storage of submits. Concurrent submits are collected and stored in ONE transaction per turn of the
 * event loop (a burst of 500 is a handful of commits, not 500), and past a queue limit a submit gets 429 with
 * Retry-After instead of work the server can not run soon: six clients at once must not freeze it. Limits are
 * checked and jobs inserted by one drain at a time, so concurrent submits can not all pass the same check; several
 * servers on one PostgreSQL store may each overshoot by at most one batch.
 */
export class Admission {
  private pending: Pending[] = [];
  private draining = false;

  constructor(
    private readonly store: Store,
    private readonly limits: QueueLimits,
  ) {}

  submit(jobs: NewJob[]): Promise<EnqueueResult[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ jobs, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // After the current turn: every submit parsed in this turn joins the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch: Pending[] = [];
        let size = 0;
        while (this.pending.length && (batch.length === 0 || size + this.pending[0]!.jobs.length <= MAX_BATCH)) {
          const p = this.pending.shift()!;
          batch.push(p);
          size += p.jobs.length;
        }
        await this.store1(batch);
        // Let other requests (GET /api/stats, the dashboard) run between batches.
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.draining = false;
    }
  }

  private async store1(batch: Pending[]): Promise<void> {
    let admitted: Pending[] = batch;
    try {
      if (this.limits.total !== undefined || this.limits.perTask !== undefined) admitted = await this.admit(batch);
      if (admitted.length === 0) return;
      const results = await this.store.enqueue(admitted.flatMap((p) => p.jobs));
      let i = 0;
      for (const p of admitted) {
        p.resolve(results.slice(i, i + p.jobs.length));
        i += p.jobs.length;
      }
    } catch (err) {
      for (const p of admitted) p.reject(err);
    }
  }

  /** Rejects (429) the submits that do not fit, in arrival order; returns the rest. */
  private async admit(batch: Pending[]): Promise<Pending[]> {
    const tasks = [...new Set(batch.flatMap((p) => p.jobs.map((j) => j.task)))];
    const depths = await Promise.all(tasks.map((t) => this.store.queueDepth(t)));
    let total = depths[0]?.total ?? 0;
    const perTask = new Map(tasks.map((t, i) => [t, depths[i]!.task]));
    const out: Pending[] = [];
    for (const p of batch) {
      const why = this.overLimit(p.jobs, total, perTask);
      if (why) {
        p.reject(this.full(why));
        continue;
      }
      total += p.jobs.length;
      for (const j of p.jobs) perTask.set(j.task, (perTask.get(j.task) ?? 0) + 1);
      out.push(p);
    }
    return out;
  }

  private overLimit(jobs: NewJob[], total: number, perTask: Map<string, number>): string | null {
    const cap = this.limits.total;
    if (cap !== undefined && total + jobs.length > cap) return `the queue holds ${total} jobs and its limit is ${cap}`;
    const adding = new Map<string, number>();
    for (const j of jobs) adding.set(j.task, (adding.get(j.task) ?? 0) + 1);
    for (const [task, n] of adding) {
      const limit = typeof this.limits.perTask === 'number' ? this.limits.perTask : this.limits.perTask?.[task];
      const queued = perTask.get(task) ?? 0;
      if (limit !== undefined && queued + n > limit) return `task "${task}" has ${queued} queued jobs and its limit is ${limit}`;
    }
    return null;
  }

  private full(why: string): HttpError {
    const after = this.limits.retryAfterSeconds ?? 1;
    return new HttpError(429, 'VIGIL_QUEUE_FULL', `queue full: ${why}; retry after ${after}s`, { 'retry-after': String(after) });
  }
}
