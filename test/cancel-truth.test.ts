import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { openTestVigil, startWorker, until } from './helpers/engine.js';

const TASKS = resolve('test/fixtures/firsthour-tasks.ts');
const quiet = { timeout: '30s', onNoWorker: () => undefined };

test('cancelling a running job keeps the reason, captures a hang report, and does not charge the attempt', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    const job = await t.vigil.submit('fh.stuck', null);
    await until('fh.stuck to print', 15_000, async () => (await t.vigil.logs(job.id)).some((l) => l.line === 'waiting for lock...'));
    await t.vigil.cancel(job.id, 'user aborted: wrong file');
    const ended = await t.vigil.wait(job.id, quiet);
    assert.equal(ended.state, 'cancelled');
    assert.match(ended.error!.message, /^user aborted: wrong file; it stopped \d+ms after the abort signal; hang report stored/);
    const [attempt] = await t.vigil.attempts(job.id);
    assert.equal(attempt!.outcome, 'cancelled');
    assert.equal(attempt!.charged, false, 'a cancelled attempt is not charged');
    assert.equal(ended.chargedAttempts, 0);
    assert.equal(attempt!.hangReport?.kind, 'cancelled');
    assert.ok(attempt!.hangReport!.logTail.some((l) => l.includes('waiting for lock...')), JSON.stringify(attempt!.hangReport!.logTail));
  } finally {
    await t.cleanup();
  }
});

test('a kill message says whether the program exited on SIGTERM or had to be SIGKILLed after the grace', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    const polite = await t.vigil.submit('fh.polite', null);
    const deaf = await t.vigil.submit('fh.deaf', null);
    const [p, d] = await Promise.all([t.vigil.wait(polite.id, quiet), t.vigil.wait(deaf.id, quiet)]);
    assert.equal(p.error?.kind, 'timeout');
    assert.match(p.error!.message, /exceeded its timeout of 1s; it stopped \d+ms after SIGTERM/);
    const pMs = Number(/it stopped (\d+)ms/.exec(p.error!.message)![1]);
    assert.ok(pMs < 3_000, `stopped ${pMs} ms after SIGTERM, within the 3 s grace`);
    assert.equal(d.error?.kind, 'timeout');
    assert.match(d.error!.message, /exceeded its timeout of 1s; it did not stop on SIGTERM and was killed \(SIGKILL\) after the 500ms grace/);
  } finally {
    await t.cleanup();
  }
});

test('a tasks module that fails to load in the executor is a worker-level error: no retries burned, the task is no longer claimed', async () => {
  const t = await openTestVigil({ tasks: resolve('test/fixtures/firsthour-broken-in-executor.ts') });
  try {
    const worker = await startWorker(t.vigil, { concurrency: 1 });
    const errors: string[] = [];
    worker.on('event', (e: { type: string; message?: string; error?: unknown }) => {
      if (e.type === 'error') errors.push(`${e.message}: ${e.error instanceof Error ? e.error.message : String(e.error)}`);
    });
    const jobs = await Promise.all([0, 1, 2].map((i) => t.vigil.submit('fh.embed', { i })));
    await until('the worker to give up the task', 20_000, () => errors.length > 0);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /task "fh\.embed" cannot run on this worker, which stops claiming it .*cannot load model weights/);
    // The worker stops announcing the task: a waiter hears that nobody serves it.
    const warning = await until('the no-worker warning', 10_000, () => t.vigil.noWorkerWarning('fh.embed'));
    assert.match(warning, /none of the 1 live worker serves task "fh\.embed"/);
    for (const j of jobs) {
      // The failed attempt's outcome is written after the worker's error event (asynchronously, group-committed).
      const now = await until(`job ${j.id} back in the queue`, 10_000, async () => {
        const job = await t.vigil.get(j.id);
        return job.state === 'queued' ? job : null;
      });
      assert.equal(now.state, 'queued', `job ${j.id} waits for a worker that can run it`);
      assert.equal(now.chargedAttempts, 0, `job ${j.id}: no retry burned`);
    }
    const tried = (await Promise.all(jobs.map((j) => t.vigil.attempts(j.id)))).flat();
    assert.equal(tried.length, 1, "one attempt in all (concurrency 1), not every job's retries");
    assert.match(tried[0]!.error!.message, /failed to load: cannot load model weights/);
    assert.doesNotMatch(tried[0]!.error!.message, /nothing was submitted/);
    assert.equal(tried[0]!.charged, false);
  } finally {
    await t.cleanup();
  }
});
