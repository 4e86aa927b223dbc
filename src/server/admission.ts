import type { EnqueueResult, NewJob, Store } from '../store/contract.js';
import type { ErrorAnswer } from './errors.js';

export interface QueueLimits {
  /** Most queued jobs (delayed ones included) across all tasks before submits get 429. */
  total?: number;
  /** Most queued jobs of one task: one number for every task, or per task name. */
  perTask?: number | Record<string, number>;
  /** Sent as Retry-After with a 429. Default 1. */
  retryAfterSeconds?: number;
}

/** What a submit gets: its jobs stored (or found by key), or a 429 to send. */
export type Admitted = { ok: true; results: EnqueueResult[] } | { ok: false; full: ErrorAnswer };

interface Pending {
  jobs: NewJob[];
  resolve(admitted: Admitted): void;
  reject(err: unknown): void;
}

/** Most submits stored in one transaction. */
const MAX_BATCH = 200;

/**
 * Most answers sent in one turn of the event loop. Resolving a batch's 200 answers at once wrote 200 replies in one
 * microtask run (~90 ms of CPU on the 2-core machine): a GET /api/stats that arrived meanwhile waited all of it.
 */
const ANSWERS_PER_TURN = 25;

/**
 * How long a queue depth read from the store is reused (plus what this server stored since). A burst is checked in
 * many small batches; counting the queue for each was a tenth of the server's CPU during one. A queue a worker is
 * draining may answer 429 this much longer than it had to.
 */
const DEPTH_MAX_AGE_MS = 50;

interface Depths {
  readAt: number;
  total: number;
  perTask: Map<string, number>;
}

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
  private depths: Depths | null = null;

  constructor(
    private readonly store: Store,
    private readonly limits: QueueLimits,
  ) {}

  /**
   * A full queue is an answer, not an exception: in a burst most submits may get 429, and a thrown error per submit
   * (its stack captured, Fastify's error path run) was a fifth of the server's CPU, time the other clients and
   * GET /api/stats waited for.
   */
  submit(jobs: NewJob[]): Promise<Admitted> {
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
    const answers: Array<() => void> = [];
    let admitted: Pending[] = batch;
    try {
      if (this.limits.total !== undefined || this.limits.perTask !== undefined) admitted = await this.admit(batch, answers);
      if (admitted.length > 0) {
        const jobs = admitted.flatMap((p) => p.jobs);
        const results = await this.store.enqueue(jobs);
        this.count(jobs, results);
        let i = 0;
        for (const p of admitted) {
          const mine = results.slice(i, i + p.jobs.length);
          answers.push(() => p.resolve({ ok: true, results: mine }));
          i += p.jobs.length;
        }
      }
    } catch (err) {
      for (const p of admitted) answers.push(() => p.reject(err));
    }
    for (let i = 0; i < answers.length; i += ANSWERS_PER_TURN) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      for (const answer of answers.slice(i, i + ANSWERS_PER_TURN)) answer();
    }
  }

  /** Answers 429 (through `answers`) to the submits that do not fit, in arrival order; returns the rest. */
  private async admit(batch: Pending[], answers: Array<() => void>): Promise<Pending[]> {
    const tasks = [...new Set(batch.flatMap((p) => p.jobs.map((j) => j.task)))];
    const now = Date.now();
    if (!this.depths || now - this.depths.readAt > DEPTH_MAX_AGE_MS) this.depths = { readAt: now, total: 0, perTask: new Map() };
    const depths = this.depths;
    const unknown = tasks.filter((t) => !depths.perTask.has(t));
    const read = await Promise.all(unknown.map((t) => this.store.queueDepth(t)));
    unknown.forEach((t, i) => {
      depths.total = read[i]!.total;
      depths.perTask.set(t, read[i]!.task);
    });
    let total = depths.total;
    const perTask = new Map(tasks.map((t) => [t, depths.perTask.get(t)!]));
    const out: Pending[] = [];
    for (const p of batch) {
      const why = this.overLimit(p.jobs, total, perTask);
      if (why) {
        const full = this.full(why);
        answers.push(() => p.resolve({ ok: false, full }));
        continue;
      }
      total += p.jobs.length;
      for (const j of p.jobs) perTask.set(j.task, (perTask.get(j.task) ?? 0) + 1);
      out.push(p);
    }
    return out;
  }

  /** What this server just stored counts towards the depths it reuses. */
  private count(jobs: NewJob[], results: EnqueueResult[]): void {
    const depths = this.depths;
    if (!depths) return;
    results.forEach((r, i) => {
      if (!r.created || r.job.state !== 'queued') return;
      depths.total++;
      const task = jobs[i]!.task;
      const n = depths.perTask.get(task);
      if (n !== undefined) depths.perTask.set(task, n + 1);
    });
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

  private full(why: string): ErrorAnswer {
    const after = this.limits.retryAfterSeconds ?? 1;
    return { status: 429, code: 'VIGIL_QUEUE_FULL', message: `queue full: ${why}; retry after ${after}s`, headers: { 'retry-after': String(after) } };
  }
}
