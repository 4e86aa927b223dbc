import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ProcessExecutor } from '../src/executors/process-executor.js';
import { ThreadExecutor } from '../src/executors/thread-executor.js';
import type { Executor } from '../src/executors/types.js';
import type { Json } from '../src/types.js';
import { RecordingChannel, spec, TASKS } from './fixtures/exec-channel.js';
import { openTestVigil, startWorker } from './helpers/engine.js';

/**
 * M7: one IPC message per ctx.heartbeat()/ctx.progress() call let a task in a loop flood the host, the supervisor
 * and the store. The runner throttles both (heartbeats every heartbeatMs/4 at most, progress every 250 ms), always
 * sending the latest value and flushing the last one before the end.
 */

class TimedChannel extends RecordingChannel {
  heartbeatTimes: number[] = [];
  override heartbeat(details: Json | undefined): void {
    super.heartbeat(details);
    this.heartbeatTimes.push(Date.now());
  }
}

const executors: Record<string, Executor> = {
  thread: new ThreadExecutor({ onHostOutput: () => undefined }),
  process: new ProcessExecutor(),
};
after(async () => {
  await Promise.all(Object.values(executors).map((e) => e.close()));
});

/** The longest time without a heartbeat, from the first one (the start of a thread or process is not the task's) to `end`. */
function maxGap(times: number[], end: number): number {
  const points = [...times, end];
  let gap = 0;
  for (let i = 1; i < points.length; i++) gap = Math.max(gap, points[i]! - points[i - 1]!);
  return gap;
}

for (const [isolation, executor] of Object.entries(executors)) {
  describe(`${isolation}: heartbeats and progress are throttled`, () => {
    test('100,000 calls in bursts send a bounded number of messages, the last value included', async (t) => {
      const channel = new TimedChannel();
      const started = Date.now();
      const end = await executor.start(spec('heartbeat-flood'), channel).done;
      const took = Date.now() - started;
      assert.deepEqual(end, { type: 'returned', value: 100_000 });
      const budget = Math.ceil(took / 250) + 3;
      t.diagnostic(`${channel.heartbeats.length} heartbeats, ${channel.progresses.length} progress messages for 100,000 calls each in ${took} ms`);
      assert.ok(channel.heartbeats.length <= budget, `${channel.heartbeats.length} heartbeats in ${took} ms (budget ${budget})`);
      assert.ok(channel.progresses.length <= budget, `${channel.progresses.length} progress messages in ${took} ms (budget ${budget})`);
      assert.deepEqual(channel.heartbeats.at(-1), { i: 99_999 }, 'the latest heartbeat is flushed before the end');
      assert.deepEqual(channel.progresses.at(-1), { fraction: 1, done: 100_000, total: 100_000 });
      // Never a second without a heartbeat (heartbeat: 1s): the task must not look stalled.
      assert.ok(maxGap(channel.heartbeatTimes, Date.now()) < 1_000, `heartbeats at ${channel.heartbeatTimes.map((t) => t - started)} ms`);
    });

    test('a synchronous loop that never yields still sends heartbeats while it spins', async () => {
      const channel = new TimedChannel();
      const attempt = executor.start(spec('heartbeat-spin'), channel);
      const started = Date.now();
      const end = await attempt.done;
      assert.equal(end.type, 'returned');
      const calls = end.type === 'returned' ? (end.value as number) : 0;
      assert.ok(calls > 10_000, `the loop called ctx.heartbeat() ${calls} times`);
      assert.ok(channel.heartbeats.length <= 2_500 / 250 + 4, `${channel.heartbeats.length} heartbeats for ${calls} calls`);
      assert.ok(channel.heartbeats.length >= 5, `${channel.heartbeats.length} heartbeats during a 2.5 s spin`);
      assert.ok(maxGap(channel.heartbeatTimes, Date.now()) < 1_000, `heartbeats at ${channel.heartbeatTimes.map((t) => t - started)} ms`);
    });
  });
}

test('through the engine: a task heartbeating 100,000 times succeeds, not stalled', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    // A warm thread: on a loaded machine, starting a host and loading the tasks module can take longer than the
    // task's 1 s heartbeat, which is not what this test is about.
    await t.vigil.wait((await t.vigil.submit('noop', null)).id, { timeout: '30s' });
    const job = await t.vigil.submit('heartbeat-flood', null);
    const done = await t.vigil.wait(job.id, { timeout: '30s' });
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.result, 100_000);
    const attempts = await t.vigil.attempts(job.id);
    assert.equal(attempts.length, 1);
  } finally {
    await t.cleanup();
  }
});
