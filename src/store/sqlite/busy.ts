import { setTimeout as sleep } from 'node:timers/promises';

/**
 * better-sqlite3 waits for another process's lock inside SQLite's busy handler, which SLEEPS THE THREAD: with a
 * 5 s busy_timeout, a process holding the write lock (another worker's claim, a checkpoint, an operator's sqlite3
 * shell) froze the supervisor's whole event loop — timers, lease renewals, IPC — for up to 5 s, past a 1 s lease
 * (DESIGN G8). So SQLite itself only waits BUSY_SLICE_MS at a time, and the store waits the rest here, between
 * tries, with the event loop free: a lock held for seconds costs the loop at most one slice per try.
 */

/** Longest SQLite may block the thread waiting for a lock in one try (the `busy_timeout` pragma after open). */
export const BUSY_SLICE_MS = 10;
/** How long one store call keeps trying before it gives up with StoreUnavailableError (the engine retries later). */
export const BUSY_PATIENCE_MS = 5_000;

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, …): another connection holds the lock. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Runs `op` (one synchronous transaction or read), trying again after an asynchronous, growing, jittered pause while
 * it fails with SQLITE_BUSY, for up to `patienceMs` or until `stopping()` says so; then the last BUSY error is thrown.
 */
export async function retryWhileBusy<T>(op: () => T, patienceMs = BUSY_PATIENCE_MS, now: () => number = Date.now, stopping: () => boolean = () => false): Promise<T> {
  const giveUpAt = now() + patienceMs;
  for (let pause = 2; ; pause = Math.min(50, pause * 2)) {
    try {
      return op();
    } catch (err) {
      if (!isBusy(err) || now() >= giveUpAt || stopping()) throw err;
    }
    await sleep(Math.round(pause * (0.5 + Math.random() * 0.5)));
  }
}
