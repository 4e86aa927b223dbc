import type { Store } from '../store/contract.js';
import { TERMINAL_STATES, type Job } from '../types.js';

export interface WaitOptions {
  signal?: AbortSignal;
  /** Re-read the store at least this often (events from other SQLite processes are not pushed). */
  pollMs?: number;
}

/**
 * Re-reads `ids` whenever the store reports a change (or every pollMs) until `done(jobs)` returns a value other
 * than undefined. Event-driven in-process; polling only covers what no event can announce.
 */
export async function waitForJobs<T>(
  store: Store,
  ids: string[],
  done: (jobs: Job[]) => T | undefined,
  options: WaitOptions = {},
): Promise<T> {
  const pollMs = options.pollMs ?? (store.crossProcessEvents ? 5_000 : 250);
  const watched = new Set(ids);
  let wake: (() => void) | null = null;
  let dirty = true;
  const unsubscribe = store.subscribe((event) => {
    if (event.type === 'finished' && !watched.has(event.jobId)) return;
    dirty = true;
    wake?.();
  });
  const onAbort = (): void => wake?.();
  options.signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      if (dirty) {
        dirty = false;
        const jobs = await store.getMany(ids);
        const result = done(jobs);
        if (result !== undefined) return result;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          dirty = true;
          resolve();
        }, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    unsubscribe();
    options.signal?.removeEventListener('abort', onAbort);
  }
}

export function isTerminal(job: Job): boolean {
  return TERMINAL_STATES.includes(job.state);
}
