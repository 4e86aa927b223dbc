/**
 * Time as an input. The engine reads the time and sets timers only through a Clock, so retry, heartbeat and
 * deadline logic can be driven by a manual clock in tests; hang tests keep the real one.
 *
 * Node's setTimeout fires after 1 ms for any delay above 2^31-1 ms (about 24.8 days), so `timeout: '600h'` would
 * kill an attempt at once: every timer here is chained in steps of at most that length.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms` (any length). The returned timer cancels it. */
  timeout(ms: number, fn: () => void, options?: { unref?: boolean }): Timer;
}

export interface Timer {
  cancel(): void;
}

/** The longest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** setTimeout for any delay: past MAX_TIMER_MS it re-arms itself until the whole delay has passed. */
export function longTimeout(ms: number, fn: () => void, options: { unref?: boolean } = {}): Timer {
  let handle: NodeJS.Timeout;
  let cancelled = false;
  const arm = (left: number): void => {
    const step = Math.min(Math.max(0, left), MAX_TIMER_MS);
    handle = setTimeout(() => {
      if (cancelled) return;
      if (left > MAX_TIMER_MS) arm(left - MAX_TIMER_MS);
      else fn();
    }, step);
    if (options.unref) handle.unref();
  };
  arm(Number.isFinite(ms) ? ms : MAX_TIMER_MS * 2);
  return {
    cancel() {
      cancelled = true;
      clearTimeout(handle);
    },
  };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  timeout: longTimeout,
};

/**
 * A sleep that can be cut short: `cancel()` clears its timer and resolves it at once, so an abandoned race never
 * leaves a timer behind that keeps the process alive.
 */
export function sleep(clock: Clock, ms: number): { done: Promise<void>; cancel(): void } {
  let timer: Timer | null = null;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  timer = clock.timeout(ms, resolve);
  return {
    done,
    cancel() {
      timer?.cancel();
      timer = null;
      resolve();
    },
  };
}

/** Resolves true when `work` settles within `ms` and false otherwise; the timer is cleared either way. */
export async function settlesWithin(clock: Clock, work: Promise<unknown>, ms: number): Promise<boolean> {
  const s = sleep(clock, ms);
  try {
    return await Promise.race([work.then(
      () => true,
      () => true,
    ), s.done.then(() => false)]);
  } finally {
    s.cancel();
  }
}
