// Tasks for bench/run.ts. The no-op returns the moment it started (local clock), so the bench measures
// enqueue-to-start latency as the task itself saw it: store round trips, claim, dispatch to a thread.
import { defineTask } from '../src/index.js';

export const noop = defineTask<Record<string, never>, { startedAt: number }>({
  name: 'bench.noop',
  isolation: 'thread',
  retries: 0,
  run: () => ({ startedAt: Date.now() }),
});

/** Holds its thread for `ms` (bench/exec-only.mts --mem: hosts' RSS with every slot busy). */
export const hold = defineTask<{ ms: number }, null>({
  name: 'bench.hold',
  isolation: 'thread',
  retries: 0,
  run: async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return null;
  },
});

/**
 * bench/peers.ts timeout precision: a real busy loop (no await, ctx.signal ignored) past a 200 ms timeout, so only
 * the kill ends it (terminate() of its thread, or SIGKILL of its host). Bounded by `ms` so a bench whose kill does
 * not work still ends.
 */
export const spin = defineTask<{ ms: number }, null>({
  name: 'bench.spin',
  isolation: 'thread',
  retries: 0,
  timeout: '200ms',
  grace: '100ms',
  run: ({ ms }, ctx) => {
    // One heartbeat before the loop: its hang report then shows the code ran (bench:peers counts only those).
    ctx.heartbeat();
    const end = Date.now() + ms;
    while (Date.now() < end) {
      // Spin: the thread never yields.
    }
    return null;
  },
});

/**
 * bench/peers.ts crash recovery: holds its slot until killed. Retried at once (backoff 0) after its worker was
 * SIGKILLed and its lease expired, so what is measured is the recovery, not a retry delay.
 */
export const held = defineTask<{ ms: number }, null>({
  name: 'bench.held',
  isolation: 'thread',
  retries: { max: 5, backoff: '0ms' },
  grace: '0ms',
  run: async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return null;
  },
});
