import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { hostEvents, ThreadExecutor } from '../src/executors/thread-executor.js';
import { RecordingChannel, spec, waitFor } from './fixtures/exec-channel.js';

/**
 * The direct end (ipc.ts DIRECT_END_FD): a quiet attempt reports its end from its thread straight to the supervisor;
 * anything it printed or posted sends its end through the host as before, after its lines. Either way the supervisor
 * sees the same ends, results and pool.
 */

const executor = new ThreadExecutor({ threadsPerHost: 2, killBoundMs: 500, onHostOutput: () => undefined });
after(async () => {
  await executor.close();
});

test('quiet attempts end straight from their thread, results intact; a large result goes through the host', async () => {
  const before = executor.directEnds;
  const values = [null, { a: [1, 'two', { three: true }] }, 'line\nbreak "quoted" \u00e9\u4e2d\ud83d\ude00', 12.5, ''];
  for (const value of values) {
    assert.deepEqual(await executor.start(spec('echo', { value }), new RecordingChannel()).done, { type: 'returned', value });
  }
  assert.equal(executor.directEnds - before, values.length);
  const big = 'x'.repeat(10_000);
  assert.deepEqual(await executor.start(spec('echo', { value: big }), new RecordingChannel()).done, { type: 'returned', value: big });
  assert.equal(executor.directEnds - before, values.length, 'a result over DIRECT_END_MAX_BYTES came through the host');
  assert.equal(executor.hostsStarted, 1);
});

test('an attempt that printed or logged ends through its host, its lines before its end', async () => {
  const before = executor.directEnds;
  const printed = new RecordingChannel();
  assert.deepEqual(await executor.start(spec('prints-only'), printed).done, { type: 'returned', value: 'printed' });
  assert.deepEqual(printed.logs.map((l) => l.line), ['the last line, no newline']);
  const chatty = new RecordingChannel();
  assert.deepEqual(await executor.start(spec('chatty'), chatty).done, { type: 'returned', value: 'ok' });
  assert.equal(chatty.logs.length, 4);
  assert.equal(executor.directEnds, before, 'no direct end for an attempt with output');
  // The thread is quiet again for the next attempt.
  assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
  assert.equal(executor.directEnds, before + 1);
});

test('a thread that ended directly and then exits by itself: the pool hears of it and the next attempts run', async () => {
  const { threads } = executor.pool;
  assert.deepEqual(await executor.start(spec('exit-later'), new RecordingChannel()).done, { type: 'returned', value: 'bye' });
  // Counted once: not idle again when its direct end arrives after its `thread-gone` (another pipe).
  await waitFor('the exited thread to leave the pool', () => executor.pool.threads === threads - 1, 3_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(executor.pool.threads, threads - 1);
  for (let i = 0; i < 6; i++) {
    assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
  }
});

test('kills racing with direct ends: every attempt ends returned or killed, and no host is SIGKILLed for it', async () => {
  const killed: unknown[] = [];
  const onEvent = (event: unknown): void => {
    if ((event as { event: string }).event === 'killed') killed.push(event);
  };
  hostEvents.subscribe(onEvent);
  const ends = [];
  for (let i = 0; i < 60; i++) {
    const attempt = executor.start(spec('noop'), new RecordingChannel());
    // Kill at different points of the round trip: before the start is written, in flight, after the end.
    if (i % 3 === 0) void attempt.kill();
    else if (i % 3 === 1) setImmediate(() => void attempt.kill());
    else setTimeout(() => void attempt.kill(), 1);
    ends.push(attempt.done);
  }
  const settled = await Promise.all(ends);
  assert.ok(settled.every((e) => e.type === 'returned' || e.type === 'killed'), JSON.stringify(settled.filter((e) => e.type !== 'returned' && e.type !== 'killed')));
  hostEvents.unsubscribe(onEvent);
  assert.deepEqual(killed, [], 'a kill that found the attempt ended directly must not escalate to its host');
  const after = await Promise.all(Array.from({ length: 4 }, () => executor.start(spec('noop'), new RecordingChannel()).done));
  assert.ok(after.every((e) => e.type === 'returned'));
});
