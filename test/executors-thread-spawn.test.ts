import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ThreadExecutor } from '../src/executors/thread-executor.js';
import { RecordingChannel, alive, spec, TASKS, waitFor } from './fixtures/exec-channel.js';
import { openTestVigil, startWorker } from './helpers/engine.js';
import { pidsRunning } from './helpers/procs.js';

/**
 * DESIGN G1: nothing an attempt started outlives it, plain child_process in a thread task included. Before, a thread
 * task that started a program and hung past its timeout left the program running (re-parented to init once its
 * host was killed).
 */

const executor = new ThreadExecutor({ threadsPerHost: 4, killBoundMs: 500, onHostOutput: () => undefined });
after(async () => {
  await executor.close();
});

test('a program started with spawn() dies when the attempt is killed; the other threads of the host live on', async () => {
  const victim = new RecordingChannel();
  const attempt = executor.start(spec('spawn-hang'), victim);
  const bystander = executor.start(spec('forever'), new RecordingChannel());
  await waitFor('the program to start', () => victim.heartbeats.length === 1);
  const pid = (victim.heartbeats[0] as { pid: number }).pid;
  assert.ok(alive(pid));
  await attempt.kill();
  assert.deepEqual(await attempt.done, { type: 'killed' });
  await waitFor(`sleep (pid ${pid}) to be gone`, () => !alive(pid), 2_000);
  await bystander.kill();
});

test('a thread blocked in execSync on a program that never ends: killed, and the program with it', async () => {
  const argv = ['sleep', '987'];
  const channel = new RecordingChannel();
  const attempt = executor.start(spec('execsync-hang', { seconds: 987 }), channel);
  await waitFor('execSync to run its program', () => pidsRunning(argv).length === 1);
  const [pid] = pidsRunning(argv);
  const t0 = Date.now();
  await attempt.kill();
  assert.deepEqual(await attempt.done, { type: 'killed' });
  const tookMs = Date.now() - t0;
  await waitFor(`sleep 987 (pid ${pid}) to be gone`, () => pidsRunning(argv).length === 0, 2_000);
  assert.ok(tookMs < 2_000, `killed in ${tookMs} ms`);
});

test('a program left running by an attempt that returned is killed with the attempt', async () => {
  const end = await executor.start(spec('spawn-leave'), new RecordingChannel()).done;
  assert.equal(end.type, 'returned');
  const pid = end.type === 'returned' ? (end.value as number) : -1;
  await waitFor(`sleep (pid ${pid}) to be gone`, () => !alive(pid), 2_000);
});

test('through the engine: execSync past the timeout ends `timeout`, and the program is gone', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  const argv = ['sleep', '988'];
  try {
    await startWorker(t.vigil);
    const job = await t.vigil.submit('execsync-hang', { seconds: 988 });
    const done = await t.vigil.wait(job.id, { timeout: '20s' });
    assert.equal(done.error?.kind, 'timeout', JSON.stringify(done.error));
    await waitFor('sleep 988 to be gone', () => pidsRunning(argv).length === 0, 2_000);
  } finally {
    await t.cleanup();
  }
});
