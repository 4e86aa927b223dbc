import type { Store, WorkerRecord } from '../store/contract.js';
import type { Json } from '../types.js';
import { formatDuration } from './duration.js';

/** Workers report every 5 s; three missed reports and a worker is taken for dead. */
export const WORKER_LIVE_MS = 15_000;

/**
 * Tasks a worker serves, from its record: null while unknown (a worker of an older version never says). The latest
 * stats report wins over the list registered at start: a worker stops serving a task whose module fails to load in
 * its executors. Unknown never counts as "not served": a warning must be true.
 */
export function workerTasks(w: WorkerRecord): string[] | null {
  const stats = w.stats as { [key: string]: Json } | null;
  const reported = stats && typeof stats === 'object' && !Array.isArray(stats) ? stats.tasks : undefined;
  if (Array.isArray(reported)) return reported.filter((t): t is string => typeof t === 'string');
  const registered = (w as WorkerRecord & { tasks?: unknown }).tasks;
  return Array.isArray(registered) ? registered.filter((t): t is string => typeof t === 'string') : null;
}

export interface Serving {
  /** Live workers (seen within WORKER_LIVE_MS). */
  live: number;
  /** Live workers that serve the task, or may (tasks not yet known). */
  serving: number;
  /** A sentence for the user when nobody can run the task; null when someone can. */
  warning: string | null;
}

/** Whether any live worker of `store` can run jobs of `task` (the only way a queued job can wait forever). */
export async function servingStatus(store: Store, task: string): Promise<Serving> {
  const [now, workers] = await Promise.all([store.now(), store.listWorkers()]);
  const live = workers.filter((w) => now - w.lastSeenAt <= WORKER_LIVE_MS);
  const serving = live.filter((w) => {
    const tasks = workerTasks(w);
    return tasks === null || tasks.includes(task);
  });
  let warning: string | null = null;
  if (live.length === 0) {
    const dead = workers.length > 0 ? ` (${workers.length} registered, none seen in the last ${formatDuration(WORKER_LIVE_MS)})` : '';
    warning = `no worker is running on this store${dead}: jobs of task "${task}" wait until one starts (vigil worker --tasks <module>)`;
  } else if (serving.length === 0) {
    warning =
      `none of the ${live.length} live worker${live.length === 1 ? '' : 's'} serves task "${task}" (a worker claims only the tasks its tasks module defines): ` +
      `jobs of "${task}" wait until a worker whose module defines it starts`;
  }
  return { live: live.length, serving: serving.length, warning };
}
