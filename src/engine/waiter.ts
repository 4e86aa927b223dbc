import type { Store } from '../store/contract.js';
import { TERMINAL_STATES, type Job } from '../types.js';
import { sleep, systemClock, type Clock } from '../clock.js';

export interface WaitOptions {
  signal?: AbortSignal;
  /** Re-read the store at least this often (events from other SQLite processes are not pushed). */
  pollMs?: number;
  clock?: Clock;
  /**
   * When set, a failed read is reported here and retried with this backoff instead of ending the wait: a parent
   * waiting on its children rides out a store outage like the rest of the worker.
   */
  onStoreError?: (error: unknown) => void;
  retry?: { firstMs: number; maxMs: number };
}

/**
 * Re-reads `ids` whenever the store reports a change (or every pollMs) until `done(jobs)` returns a value other
 * than undefined. Event-driven in-process; polling only covers what no event can announce.
 */
export async function waitForJobs<T>(store: Store, ids: string[], done: (jobs: Job[]) => T | undefined, options: WaitOptions = {}): Promise<T> {
  const pollMs = options.pollMs ?? (store.crossProcessEvents ? 5_000 : 250);
  const clock = options.clock ?? systemClock;
  const retry = options.retry ?? { firstMs: 100, maxMs: 5_000 };
  const signal = options.signal;
  const watched = new Set(ids);
  let pause: ReturnType<typeof sleep> | null = null;
  let dirty = true;
  let failures = 0;
  const unsubscribe = store.subscribe((event) => {
    if (event.type === 'finished' && !watched.has(event.jobId)) return;
    dirty = true;
    pause?.cancel();
  });
  const onAbort = (): void => pause?.cancel();
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      signal?.throwIfAborted();
      let wait = pollMs;
      if (dirty) {
        dirty = false;
        let jobs: Job[] | null = null;
        try {
          jobs = await store.getMany(ids);
          failures = 0;
        } catch (err) {
          if (!options.onStoreError) throw err;
          options.onStoreError(err);
          dirty = true;
          wait = Math.min(retry.maxMs, retry.firstMs * 2 ** Math.min(failures++, 30));
        }
        if (jobs) {
          const result = done(jobs);
          if (result !== undefined) return result;
        }
        // An abort that came while the store was read must not wait out a whole poll.
        signal?.throwIfAborted();
      }
      // Woken by the timer, a store event or the abort: read again (the abort is checked first).
      pause = sleep(clock, wait);
      await pause.done;
      pause = null;
      dirty = true;
    }
  } finally {
    pause?.cancel();
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}

export function isTerminal(job: Job): boolean {
  return TERMINAL_STATES.includes(job.state);
}
