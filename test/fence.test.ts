// Fencing tokens for side effects (issue #14): a zombie attempt that lost its lease while writing its output can
// not overwrite the output of the attempt that replaced it; its ctx.isCurrent() says false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Vigil } from '../src/index.js';
import { openStore } from '../src/store/open.js';
import { until } from './helpers/engine.js';
import { gate, hooked } from './helpers/hooked-store.js';
import { assertNoLeaks, snapshot } from './helpers/leaks.js';

const TASKS = resolve('test/fixtures/beyond-tasks.ts');

test("a lease lost while writing output: the replacing attempt's output remains, the zombie's isCurrent() is false", async () => {
  const before = snapshot();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fence-'));
  const url = `sqlite:${join(dir, 'vigil.db')}`;
  // Worker A's lease renewals hang (a stalled connection): its lease runs out while its attempt keeps writing.
  const renewals = gate();
  const realA = await openStore(url);
  const a = await Vigil.open({
    store: hooked(realA, {
      renewLeases: async (workerId, fences, leaseMs, held) => {
        await renewals.wait();
        return realA.renewLeases(workerId, fences, leaseMs, held);
      },
    }),
    tasks: TASKS,
  });
  const b = await Vigil.open({ store: url, tasks: TASKS });
  try {
    // One slot: the zombie keeps it, so the recovered job goes to worker B.
    await a.startWorker({ concurrency: 1, leaseMs: 1_000, pollMs: 50 });
    const job = await a.submit('publish', { dir });
    await until('attempt 1 runs on A', 10_000, async () => (await a.get(job.id)).state === 'running');
    await b.startWorker({ concurrency: 1, leaseMs: 5_000, pollMs: 50 });
    const done = await b.wait(job.id, { timeout: '20s' });
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.result, 2, 'attempt 2 (fence 2) published');
    const checks = await until('the zombie checked', 10_000, () => {
      const text = readFileSync(join(dir, 'checks.txt'), 'utf8');
      return text.includes('attempt 1') ? text : null;
    });
    assert.match(checks, /attempt 2 fence 2 current true/);
    assert.match(checks, /attempt 1 fence 1 current false/);
    assert.equal(readFileSync(join(dir, 'report.txt'), 'utf8'), 'written by attempt 2 (fence 2)\n');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
    renewals.open();
    // The zombie's outcome is never recorded: the job stays as attempt 2 left it.
    const attempts = await b.attempts(job.id);
    assert.deepEqual(attempts.map((x) => [x.attempt, x.outcome]), [[1, 'crashed'], [2, 'succeeded']]);
  } finally {
    renewals.open();
    await a.close();
    await b.close();
    await realA.close();
    rmSync(dir, { recursive: true, force: true });
  }
  await assertNoLeaks(before, 'both workers');
});

test('ctx.fence is the attempt number and isCurrent() is true for a live attempt, in a thread and in a process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fence-'));
  const v = await Vigil.open({ store: `sqlite:${join(dir, 'vigil.db')}`, tasks: TASKS });
  try {
    await v.startWorker({ concurrency: 2, pollMs: 50 });
    for (const task of ['whoAmI', 'whoAmI.process']) {
      const done = await v.wait((await v.submit(task, null)).id, { timeout: '30s' });
      assert.deepEqual(done.result, { fence: 1, current: true }, task);
    }
  } finally {
    await v.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
