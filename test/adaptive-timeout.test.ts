// Adaptive timeouts (issue #14): after 20 runs of ~100 ms, a run that spins forever ends `timeout` within
// max(min, learned) + grace, and `inspect` says where the value came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { openTestVigil, startWorker } from './helpers/engine.js';
import { runCli } from './helpers/cli.js';
import { learnTimeout } from '../src/engine/adaptive-timeout.js';
import { defineTask } from '../src/index.js';

const TASKS = resolve('test/fixtures/beyond-tasks.ts');

test('learnTimeout: p99 × factor within min..max, the maximum until enough runs', () => {
  const auto = { minMs: 300, maxMs: 20_000, after: 20, factor: 3 };
  assert.equal(learnTimeout(Array(19).fill(100), auto).ms, 20_000);
  assert.equal(learnTimeout([...Array(99).fill(100), 5_000], auto).ms, 300, 'p99 of 100 runs ignores the single outlier');
  assert.equal(learnTimeout(Array(20).fill(1_000), auto).ms, 3_000);
  assert.equal(learnTimeout(Array(20).fill(10_000), auto).ms, 20_000);
  assert.match(learnTimeout(Array(20).fill(1_000), auto).note, /learned from 20 succeeded runs \(p99 1s × 3/);
  assert.throws(() => defineTask({ name: 'x', timeout: { auto: true, min: '2s', max: '1s' }, run: () => null }), /min \(2s\) must not be greater than max/);
});

test('after 20 runs of ~100 ms, a spinning run ends `timeout` within max(min, learned) + grace', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    const worker = await startWorker(t.vigil, { concurrency: 1, pollMs: 50 });
    // The first attempt in a thread loads the tasks module (seconds on a loaded machine): warm it with another task,
    // so the 20 runs measure the task, one after the other.
    await t.vigil.wait((await t.vigil.submit('hold', { ms: 0 })).id, { timeout: '30s' });
    for (let i = 0; i < 20; i++) {
      const r = await t.vigil.submit('learner', {});
      assert.equal((await t.vigil.wait(r.id, { timeout: '30s' })).state, 'succeeded');
    }
    const succeeded = await t.vigil.list({ task: 'learner', state: 'succeeded' });
    const durations = succeeded.map((j) => j.finishedAt! - j.startedAt!).sort((a, b) => a - b);
    const learned = Math.max(300, Math.min(20_000, durations.at(-1)! * 3));
    const spin = await t.vigil.submit('learner', { spin: true });
    const done = await t.vigil.wait(spin.id, { timeout: '30s' });
    assert.equal(done.error?.kind, 'timeout', JSON.stringify(done.error));
    assert.match(done.error!.message, /learned from 20 succeeded runs/);
    const [attempt] = await t.vigil.attempts(spin.id);
    const took = attempt!.finishedAt! - attempt!.startedAt;
    // + 1 s for the hang capture, the kill and the write on a loaded machine.
    assert.ok(took <= learned + 200 + 1_000, `the spinning attempt took ${took} ms (learned timeout ${learned} ms from ${durations.join(', ')}; grace 200 ms)`);
    assert.ok(took >= 300, `not before the minimum (${took} ms)`);
    const inspect = await runCli(['inspect', spin.id, '--store', t.storeUrl]);
    assert.match(inspect.output, /timeout \d+ms, learned from 20 succeeded runs \(p99 \d+ms × 3, bounds 300ms\.\.20s\)/, inspect.output);
    await worker.stop({ drainMs: 0 });
  } finally {
    await t.cleanup();
  }
});
