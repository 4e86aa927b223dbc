// vigil replay (issue #14): a job's input re-run locally under the same supervision, in a throwaway store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { openTestVigil, startWorker, type TestVigil } from './helpers/engine.js';
import { runCli } from './helpers/cli.js';
import type { Job } from '../src/index.js';

const TASKS = resolve('test/fixtures/beyond-tasks.ts');

describe('vigil replay', () => {
  let t: TestVigil;
  let failed: Job;
  let succeeded: Job;
  before(async () => {
    t = await openTestVigil({ tasks: TASKS });
    const worker = await startWorker(t.vigil);
    failed = await t.vigil.wait((await t.vigil.submit('double', { n: -4 })).id, { timeout: '30s' });
    succeeded = await t.vigil.wait((await t.vigil.submit('double.process', { n: 21 })).id, { timeout: '30s' });
    await worker.stop();
  });
  after(async () => {
    await t.cleanup();
  });

  test('a failed job replays to the same error; the original store is only read', async () => {
    assert.equal(failed.state, 'failed');
    const before = await t.vigil.list({ limit: 100 });
    const r = await runCli(['replay', failed.id, '--tasks', TASKS, '--store', t.storeUrl, '--attempt', '1']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /original {2}attempt 1: error \(cannot double -4: negative input\)/);
    assert.match(r.output, /replay {4}failed \(error: cannot double -4: negative input\)/);
    assert.deepEqual((await t.vigil.list({ limit: 100 })).map((j) => [j.id, j.state]), before.map((j) => [j.id, j.state]));
  });

  test('a succeeded process job replays to the same result (--json)', async () => {
    const r = await runCli(['replay', succeeded.id, '--tasks', TASKS, '--store', t.storeUrl, '--json']);
    assert.equal(r.code, 0, r.output);
    const out = JSON.parse(r.output) as { replay: Job };
    assert.equal(out.replay.state, 'succeeded');
    assert.equal(out.replay.result, 42);
  });

  test('an attempt that does not exist is a usage error', async () => {
    const r = await runCli(['replay', failed.id, '--tasks', TASKS, '--store', t.storeUrl, '--attempt', '5']);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /has no attempt 5/);
  });

  test('--inspect: the attempt waits paused for a debugger (it never runs its first line), the inspector is announced', async () => {
    const r = await runCli(['replay', succeeded.id, '--tasks', TASKS, '--store', t.storeUrl, '--inspect', '127.0.0.1:0']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//);
    assert.match(r.output, /replay {4}failed \(timeout: /);
  });
});
