// Tasks for bench/run.ts. The no-op returns the moment it started (local clock), so the bench measures
// enqueue-to-start latency as the task itself saw it: store round trips, claim, dispatch to a thread.
import { defineTask } from '../src/index.js';

export const noop = defineTask<Record<string, never>, { startedAt: number }>({
  name: 'bench.noop',
  isolation: 'thread',
  retries: 0,
  run: () => ({ startedAt: Date.now() }),
});
