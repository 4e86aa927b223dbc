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
