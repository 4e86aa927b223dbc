import { sleep, type Clock } from '../clock.js';

export interface RetryOptions {
  clock: Clock;
  retry: { firstMs: number; maxMs: number };
  /** Stops the tries (the attempt is over): the last error is thrown. */
  signal?: AbortSignal;
  onError(error: unknown): void;
}

/**
 * Runs an idempotent store call until it succeeds: a store outage is waited out with backoff (each failure
 * reported), not turned into the task's failure. Only the signal ends the tries.
 */
export async function untilStored<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (error) {
      // A request the store will never accept (too large, unknown task) is the task's error, not an outage.
      if ((error as { retryable?: unknown } | null)?.retryable === false) throw error;
      options.onError(error);
      if (options.signal?.aborted) throw error;
      const pause = sleep(options.clock, Math.min(options.retry.maxMs, options.retry.firstMs * 2 ** Math.min(i, 30)));
      const stop = (): void => pause.cancel();
      options.signal?.addEventListener('abort', stop, { once: true });
      await pause.done;
      options.signal?.removeEventListener('abort', stop);
      if (options.signal?.aborted) throw error;
    }
  }
}
