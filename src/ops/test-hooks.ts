import type { Worker } from '../engine/worker.js';

/**
 * Test-only: VIGIL_TEST_BLOCK_SUPERVISOR_MS=N makes `vigil worker` block its own event loop for N ms right after
 * its first attempt starts, so the self-watchdog can be tested against a real frozen supervisor. Nothing else
 * reads it; unset (always, outside tests) it costs one env lookup at start.
 */
export function installTestHooks(worker: Worker, env: NodeJS.ProcessEnv = process.env): void {
  const ms = Number(env.VIGIL_TEST_BLOCK_SUPERVISOR_MS);
  if (!Number.isFinite(ms) || ms <= 0) return;
  let done = false;
  worker.on('event', (event: { type: string }) => {
    if (event.type !== 'started' || done) return;
    done = true;
    setImmediate(() => blockSupervisorLoopForTest(ms));
  });
}

/** A synchronous busy loop on the supervisor's thread: the watchdog's captured stack must name this function. */
export function blockSupervisorLoopForTest(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy on purpose: nothing else runs on this loop until it returns.
  }
}
