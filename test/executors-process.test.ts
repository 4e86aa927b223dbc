import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ProcessExecutor } from '../src/executors/process-executor.js';
import { RecordingChannel, alive, pidsOfDeadSupervisor, spec, timed, waitFor } from './fixtures/exec-channel.js';

let executor: ProcessExecutor;
let dir: string;

before(() => {
  executor = new ProcessExecutor({ killBoundMs: 500 });
  dir = mkdtempSync(join(tmpdir(), 'vigil-exec-process-'));
});

after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(task: string, input: Parameters<typeof spec>[1] = null, extra: Parameters<typeof spec>[2] = {}) {
  const channel = new RecordingChannel();
  const attempt = executor.start(spec(task, input, extra), channel);
  return { channel, attempt };
}

describe('process executor: normal ends', () => {
  test('returned value, thrown error with stack, non-retryable error, one process per attempt', async () => {
    const [echo, fails, final, a, b] = await Promise.all([
      run('echo', { value: [1, { two: 2 }] }).attempt.done,
      run('fails').attempt.done,
      run('fails-final').attempt.done,
      run('whoami').attempt.done,
      run('whoami').attempt.done,
    ]);
    assert.deepEqual(echo, { type: 'returned', value: [1, { two: 2 }] });
    assert.ok(fails.type === 'threw');
    assert.equal(fails.error.message, 'boom: the disk is full');
    assert.match(fails.error.stack ?? '', /exec-tasks\.ts/);
    assert.ok(final.type === 'threw');
    assert.equal(final.error.retryable, false);
    assert.ok(a.type === 'returned' && b.type === 'returned');
    assert.notEqual((a.value as { pid: number }).pid, (b.value as { pid: number }).pid);
    assert.notEqual((a.value as { pid: number }).pid, process.pid);
  });

  test('uncaught exception is a throw; process.exit() is a death', async () => {
    const uncaught = await run('uncaught').attempt.done;
    assert.ok(uncaught.type === 'threw');
    assert.equal(uncaught.error.message, 'thrown from a timer');
    const exits = await run('exits').attempt.done;
    assert.ok(exits.type === 'died' && !exits.collateral);
    assert.match(exits.message, /exited with code 3/);
  });

  test('console output and ctx.log become log lines', async () => {
    const { channel, attempt } = run('chatty');
    assert.deepEqual(await attempt.done, { type: 'returned', value: 'ok' });
    assert.deepEqual(channel.logs.map((l) => `${l.stream}:${l.line}`).sort(), [
      'log:via ctx.log { a: 1 }',
      'stderr:to stderr 42',
      'stdout:hello from console.log',
      'stdout:partial line without newline',
    ]);
  });

  test('abort reaches ctx.signal; spawns are batched', async () => {
    const signals = run('signals');
    await waitFor('progress', () => signals.channel.progresses.length === 2);
    signals.attempt.abort('cancelled by user');
    assert.deepEqual(await signals.attempt.done, { type: 'returned', value: { aborted: true, reason: 'attempt aborted: cancelled by user' } });
    const fan = run('fanout', { n: 1000 });
    assert.deepEqual(await fan.attempt.done, { type: 'returned', value: 1000 });
    assert.equal(fan.channel.spawnCalls.length, 1);
    assert.equal(fan.channel.spawnCalls[0]!.length, 1000);
  });

  test('memoryMb: the tree RSS over the limit ends oom', async () => {
    const { value: end, ms } = await timed(run('hog', null, { memoryMb: 128 }).attempt.done);
    assert.equal(end.type, 'oom', JSON.stringify(end));
    assert.ok(ms < 10_000);
  });
});

describe('process executor: hangs end within the kill bound', () => {
  for (const task of ['busy', 'forever', 'atomics-wait', 'fifo', 'pbkdf2']) {
    test(`${task}: kill ends the process`, async () => {
      const fifo = join(dir, `${task}.fifo`);
      if (task === 'fifo') execFileSync('mkfifo', [fifo]);
      const { channel, attempt } = run(task, { path: fifo });
      await waitFor(`${task} to start`, () => channel.heartbeats.length === 1);
      const pids = attempt.pids();
      assert.ok(pids.length >= 1);
      const { ms } = await timed(attempt.kill());
      assert.ok(ms < 1_000, `kill took ${ms} ms`);
      assert.deepEqual(await attempt.done, { type: 'killed' });
      await waitFor('the process to be gone', () => pids.every((pid) => !alive(pid)), 1_000);
    });
  }

  test('ctx.exec: output and pid forwarded; the program dies with a killed attempt', async () => {
    const echo = run('exec-echo');
    assert.deepEqual(await echo.attempt.done, { type: 'returned', value: { exitCode: 0, stdout: 'out-line\n' } });
    assert.ok(echo.channel.logs.some((l) => l.stream === 'stdout' && l.line === 'out-line'));
    assert.equal(echo.channel.started.length, 1);
    const { channel, attempt } = run('exec-hang');
    await waitFor('the program to start', () => channel.started.length === 1);
    const [pid] = channel.started;
    await attempt.kill();
    assert.deepEqual(await attempt.done, { type: 'killed' });
    await waitFor('the program to be gone', () => !alive(pid!), 1_000);
  });

  test('captureHang gives the process tree within its budget', async () => {
    const { channel, attempt } = run('grandchild');
    await waitFor('start', () => channel.heartbeats.length === 1);
    const sleeper = (channel.heartbeats[0] as { pid: number }).pid;
    const { value, ms } = await timed(attempt.captureHang(500));
    assert.ok(ms < 800, `capture took ${ms} ms`);
    assert.ok(Array.isArray(value.notes));
    assert.ok(value.processes?.some((p) => p.pid === sleeper), JSON.stringify(value));
    await attempt.kill();
    await waitFor('the grandchild to be gone', () => !alive(sleeper), 1_000);
  });

  test('programs the task started die with it', async () => {
    const { channel, attempt } = run('grandchild');
    await waitFor('start', () => channel.heartbeats.length === 1);
    const sleeper = (channel.heartbeats[0] as { pid: number }).pid;
    assert.ok(alive(sleeper));
    await attempt.kill();
    assert.deepEqual(await attempt.done, { type: 'killed' });
    await waitFor('the grandchild to be gone', () => !alive(sleeper), 1_000);
  });

  test('an attempt process killed from outside: died, not collateral', async () => {
    const { channel, attempt } = run('forever');
    await waitFor('start', () => channel.heartbeats.length === 1);
    for (const pid of attempt.pids()) process.kill(pid, 'SIGKILL');
    const end = await attempt.done;
    assert.ok(end.type === 'died' && end.collateral === false, JSON.stringify(end));
  });

  test('close() kills what still runs', async () => {
    const { channel, attempt } = run('busy');
    await waitFor('start', () => channel.heartbeats.length === 1);
    const pids = attempt.pids();
    await executor.close();
    assert.deepEqual(await attempt.done, { type: 'killed' });
    await waitFor('the process to be gone', () => pids.every((pid) => !alive(pid)), 1_000);
  });

  test('a supervisor that dies leaves nothing behind (attempt processes and ctx.exec programs)', async () => {
    const pids = await pidsOfDeadSupervisor('process');
    assert.ok(pids.length >= 2, JSON.stringify(pids));
    await waitFor('every process of the dead supervisor to be gone', () => pids.every((pid) => !alive(pid)), 2_000);
  });
});
