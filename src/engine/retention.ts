import type { FinishedState, Store } from '../store/contract.js';
import type { KeepOptions, ResolvedKeep } from '../task/define.js';
import { longDuration } from '../task/define.js';
import type { TaskMap } from '../task/registry.js';

/** A task's own retention (plain data: it crosses into the retention thread). */
export interface TaskKeep {
  task: string;
  keep: ResolvedKeep;
}

export function taskKeepsOf(tasks: TaskMap): TaskKeep[] {
  return [...tasks.values()].flatMap((t) => (t.options.keep ? [{ task: t.options.name, keep: t.options.keep }] : []));
}

export interface RetentionOptions {
  store: Store;
  taskKeeps: TaskKeep[];
  /** Retention of every task without its own `keep` (per state). Nothing is deleted by default. */
  keep?: ResolvedKeep | null;
  /** Between sweeps. Default 5 min. */
  intervalMs?: number;
  /** Top-level jobs (with their children) per transaction. Default 20: ~2 ms of CPU each on SQLite (20 parent+child pairs with attempts and logs). */
  batch?: number;
  /** Between batches, so other writers get the store's lock. Default 10 ms. */
  pauseMs?: number;
  clock?: () => Promise<number>;
  onError?: (message: string, error: unknown) => void;
  onSwept?: (result: { jobs: number; logs: number }) => void;
}

/** Log lines are smaller than jobs with their attempts: a log batch is this many lines per job of a job batch. */
const LINES_PER_JOB = 20;

const STATES: Array<[FinishedState, keyof ResolvedKeep]> = [
  ['succeeded', 'succeededMs'],
  ['failed', 'failedMs'],
  ['cancelled', 'cancelledMs'],
];

/** Resolves the global `keep` of a worker (`vigil worker --keep`) with the same rules as a task's. */
export function resolveKeep(keep: KeepOptions): ResolvedKeep {
  const one = (k: keyof KeepOptions): number | null => (keep[k] === undefined ? null : longDuration('(global)', `keep.${k}`, keep[k]));
  return { succeededMs: one('succeeded'), failedMs: one('failed'), cancelledMs: one('cancelled'), logsMs: one('logs') };
}

/**
 * Deletes finished jobs and logs past their retention, in small batches — each one short transaction, with the
 * event loop handed back between batches — so a backlog of millions never blocks the supervisor (DESIGN G8).
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(private readonly options: RetentionOptions) {}

  /** True when some retention is configured (else the sweeper never runs). */
  get active(): boolean {
    const any = (k: ResolvedKeep | null | undefined): boolean => !!k && Object.values(k).some((v) => v !== null);
    return any(this.options.keep) || this.options.taskKeeps.some((t) => any(t.keep));
  }

  start(firstDelayMs = 1_000): void {
    if (!this.active) return;
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One full sweep: every rule, batch after batch until nothing is left. Returns what it deleted. */
  async sweep(): Promise<{ jobs: number; logs: number }> {
    const { store } = this.options;
    const now = this.options.clock ? await this.options.clock() : await store.now();
    const batch = this.options.batch ?? 20;
    const global = this.options.keep ?? null;
    const tasks = this.options.taskKeeps;
    let jobs = 0;
    let logs = 0;
    for (const [state, field] of STATES) {
      const own = tasks.filter((t) => t.keep[field] != null);
      for (const t of own) jobs += await this.drain(() => store.prune({ finishedBefore: now - t.keep[field]!, states: [state], tasks: [t.task], limit: batch }));
      if (global?.[field] != null) {
        const exceptTasks = own.map((t) => t.task);
        jobs += await this.drain(() => store.prune({ finishedBefore: now - global[field]!, states: [state], exceptTasks, limit: batch }));
      }
    }
    const ownLogs = tasks.filter((t) => t.keep.logsMs != null);
    for (const t of ownLogs) logs += await this.drain(() => store.pruneLogs({ finishedBefore: now - t.keep.logsMs!, tasks: [t.task], limit: batch * LINES_PER_JOB }));
    if (global?.logsMs != null) {
      logs += await this.drain(() => store.pruneLogs({ finishedBefore: now - global.logsMs!, exceptTasks: ownLogs.map((t) => t.task), limit: batch * LINES_PER_JOB }));
    }
    return { jobs, logs };
  }

  private async drain(batch: () => Promise<{ count: number; more: boolean }>): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.stopped) return total;
      const { count, more } = await batch();
      total += count;
      // Freed pages go back in step with the deletes: one big vacuum at the end would be one long pause.
      if (count > 0) await this.options.store.compact();
      if (!more) return total;
      // A pause, not just a yield: a worker's claim waiting on SQLite's write lock sleeps in the busy handler, and a
      // sweep that re-takes the lock at once would starve it (measured: claims held 130 ms under load).
      await new Promise<void>((resolve) => setTimeout(resolve, this.options.pauseMs ?? 10));
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.sweep()
        .then((r) => this.options.onSwept?.(r))
        .catch((err: unknown) => this.options.onError?.('retention sweep failed; trying again later', err))
        .finally(() => this.schedule(this.options.intervalMs ?? 5 * 60_000));
    }, ms);
    this.timer.unref?.();
  }
}

