import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hostEvents, ThreadExecutor } from '../src/executors/thread-executor.js';
import { RecordingChannel, spec, waitFor } from './fixtures/exec-channel.js';

/**
 * The direct start (ipc.ts DIRECT_IN): the supervisor sends an attempt straight to an idle thread on the socket the
 * thread opened, and the host learns of it through their shared memory. Kills, captures and deaths must find such an
 * attempt whether or not its thread has read it yet.
 */

const executor = new ThreadExecutor({ threadsPerHost: 1, killBoundMs: 2_000, onHostOutput: () => undefined });
after(async () => {
  await executor.close();
});

/** Every host SIGKILL the executor reports while `body` runs. */
async function hostKills<T>(body: () => Promise<T>): Promise<{ value: T; kills: unknown[] }> {
  const kills: unknown[] = [];
  const onEvent = (event: unknown): void => {
    if ((event as { event: string }).event === 'killed') kills.push(event);
  };
  hostEvents.subscribe(onEvent);
  try {
    return { value: await body(), kills };
  } finally {
    hostEvents.unsubscribe(onEvent);
  }
}

test('attempts start straight on their thread once it has said hello; results and inputs intact', async () => {
  // The first attempt may go through the host: the thread's hello races with its warm-up.
  assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
  for (let tries = 0; executor.directStarts === 0; tries++) {
    assert.ok(tries < 500, 'no attempt started directly: the thread never connected');
    await executor.start(spec('noop'), new RecordingChannel()).done;
  }
  const before = executor.directStarts;
  const values = [null, { a: [1, 'two', { three: true }] }, 'line\nbreak "quoted" \u00e9\u4e2d\ud83d\ude00', 12.5, ''];
  for (const value of values) {
    assert.deepEqual(await executor.start(spec('echo', { value }), new RecordingChannel()).done, { type: 'returned', value });
  }
  assert.equal(executor.directStarts - before, values.length);
  // An attempt that logs and prints still reports its lines (the host learns its key from the shared memory).
  const chatty = new RecordingChannel();
  assert.deepEqual(await executor.start(spec('chatty'), chatty).done, { type: 'returned', value: 'ok' });
  assert.equal(chatty.logs.length, 4);
  assert.equal(executor.directStarts - before, values.length + 1);
});

test('a quiet busy loop started directly (the host never heard of it): its stack is captured, and a kill terminates its thread, not its host', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-direct-in-'));
  const flag = join(dir, 'started');
  const { value: end, kills } = await hostKills(async () => {
    const before = executor.directStarts;
    const attempt = executor.start(spec('quiet-busy', { flag }), new RecordingChannel());
    await waitFor('the busy loop to start', () => existsSync(flag), 10_000);
    assert.equal(executor.directStarts, before + 1);
    const where = await attempt.captureHang(2_000);
    assert.ok(where.stack && where.stack.length > 0, `a stack for the directly started attempt: ${JSON.stringify(where)}`);
    void attempt.kill();
    return attempt.done;
  });
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(end, { type: 'killed' });
  assert.deepEqual(kills, []);
  assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
});

test('a kill of an attempt its thread has not read yet: it ends killed and never runs; the pool goes on', async () => {
  const { value, kills } = await hostKills(async () => {
    // The thread is busy for 1.5 s after this attempt returned: the next one waits unread on its socket.
    assert.deepEqual(await executor.start(spec('busy-after', { ms: 1_500 }), new RecordingChannel()).done, { type: 'returned', value: 'returned' });
    const before = executor.directStarts;
    const channel = new RecordingChannel();
    const unread = executor.start(spec('chatty'), channel);
    assert.equal(executor.directStarts, before + 1, 'sent straight to its thread');
    void unread.kill();
    return { end: await unread.done, logs: channel.logs.length };
  });
  assert.deepEqual(value, { end: { type: 'killed' }, logs: 0 });
  assert.deepEqual(kills, []);
  assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
});

test('a thread that exits with an attempt unread on its socket: that attempt ends died, said never started', async () => {
  assert.deepEqual(await executor.start(spec('busy-after', { ms: 300, exit: true }), new RecordingChannel()).done, { type: 'returned', value: 'returned' });
  const before = executor.directStarts;
  const lost = executor.start(spec('noop'), new RecordingChannel());
  assert.equal(executor.directStarts, before + 1, 'sent straight to its thread');
  const end = await lost.done;
  assert.equal(end.type, 'died', JSON.stringify(end));
  assert.match((end as { message: string }).message, /exited before it started the attempt/);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
  }
});

test('a connection to the direct-start socket without the token is dropped, and attempts go on', async () => {
  const { connect } = await import('node:net');
  const path = (executor as unknown as { directIn: { path: string } }).directIn.path;
  const closed = await new Promise<boolean>((resolve) => {
    // A live host and a thread id it has not used: only the token is wrong.
    const hello = { token: 'not-the-token', host: executor.hostPids()[0], slot: 999 };
    const socket = connect(path, () => socket.write(`${JSON.stringify(hello)}\n`));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 5_000).unref();
  });
  assert.ok(closed, 'the stranger was disconnected');
  assert.deepEqual(await executor.start(spec('noop'), new RecordingChannel()).done, { type: 'returned', value: null });
});
