import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ThreadExecutor } from '../src/executors/thread-executor.js';
import type { AttemptEnd } from '../src/executors/types.js';
import { RecordingChannel, alive, pidsOfDeadSupervisor, cpuTicks, spec, timed, waitFor } from './fixtures/exec-channel.js';

const KILL_BOUND_MS = 500;
let executor: ThreadExecutor;
let dir: string;

before(() => {
  executor = new ThreadExecutor({ threadsPerHost: 4, killBoundMs: KILL_BOUND_MS, onHostOutput: () => undefined });
  dir = mkdtempSync(join(tmpdir(), 'vigil-exec-thread-'));
});

after(async () => {
  const pids = executor.hostPids();
  await executor.close();
  for (const pid of pids) assert.equal(alive(pid), false, `host ${pid} survived close()`);
  rmSync(dir, { recursive: true, force: true });
});

function run(task: string, input: Parameters<typeof spec>[1] = null, extra: Parameters<typeof spec>[2] = {}) {
  const channel = new RecordingChannel();
  const attempt = executor.start(spec(task, input, extra), channel);
  return { channel, attempt };
}

describe('thread executor: normal ends', () => {
  test('a returned value', async () => {
    const { attempt } = run('echo', { value: { a: [1, 'two', null] } });
    assert.deepEqual(await attempt.done, { type: 'returned', value: { a: [1, 'two', null] } });
  });

  test('input and result cross supervisor -> host -> thread and back unchanged (JSON on the host channel)', async () => {
    // Every JSON value the store can hold: a lone surrogate, U+2028, a NUL and a newline in strings, an own
    // "__proto__" key, an empty key, the largest safe integer, tiny and huge doubles, deep nesting, a 200 KiB string.
    const value = JSON.parse(
      JSON.stringify({
        text: 'a\ud800b \u2028 \u0000 line\nbreak "quoted" \\ é 🙂',
        '': 'empty key',
        numbers: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 5e-324, 1.7976931348623157e308, -0.5, 0],
        nested: JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100)),
        big: 'x'.repeat(200 * 1024),
        list: [null, true, false, [], {}],
      }),
    );
    Object.defineProperty(value, '__proto__', { value: { own: true }, enumerable: true, configurable: true, writable: true });
    const { attempt } = run('echo', { value });
    const end = await attempt.done;
    assert.ok(end.type === 'returned', JSON.stringify(end).slice(0, 300));
    assert.deepEqual(end.value, value);
    assert.ok(Object.hasOwn(end.value as object, '__proto__'), 'an own "__proto__" key stays an own key');
  });

  test('a thrown error keeps message, code and stack', async () => {
    const end = await run('fails').attempt.done;
    assert.equal(end.type, 'threw');
    assert.ok(end.type === 'threw');
    assert.equal(end.error.kind, 'error');
    assert.equal(end.error.message, 'boom: the disk is full');
    assert.equal(end.error.code, 'ENOSPC');
    assert.match(end.error.stack ?? '', /exec-tasks\.ts/);
    assert.notEqual(end.error.retryable, false);
  });

  test('NonRetryableError stays non-retryable, with its cause', async () => {
    const end = await run('fails-final').attempt.done;
    assert.ok(end.type === 'threw');
    assert.equal(end.error.retryable, false);
    assert.equal(end.error.name, 'NonRetryableError');
    assert.equal(end.error.cause?.message, 'bad header');
  });

  test('an uncaught exception from a timer is a throw; unknown tasks and bad results are clear errors', async () => {
    const uncaught = await run('uncaught').attempt.done;
    assert.ok(uncaught.type === 'threw');
    assert.equal(uncaught.error.message, 'thrown from a timer');
    const unknown = await run('no-such-task').attempt.done;
    assert.ok(unknown.type === 'threw');
    assert.match(unknown.error.message, /unknown task "no-such-task".*known tasks: .*noop/);
    const bad = await run('bad-result').attempt.done;
    assert.ok(bad.type === 'threw');
    assert.match(bad.error.message, /returned a value JSON cannot carry: result\.n: a BigInt is not JSON/);
  });

  test('process.exit() in a task ends its thread: died, not collateral', async () => {
    const end = await run('exits').attempt.done;
    assert.equal(end.type, 'died');
    assert.ok(end.type === 'died' && !end.collateral);
  });

  test('console output and ctx.log become log lines of the attempt', async () => {
    const { channel, attempt } = run('chatty');
    assert.deepEqual(await attempt.done, { type: 'returned', value: 'ok' });
    const lines = channel.logs.map((l) => `${l.stream}:${l.line}`);
    assert.deepEqual(lines.sort(), [
      'log:via ctx.log { a: 1 }',
      'stderr:to stderr 42',
      'stdout:hello from console.log',
      'stdout:partial line without newline',
    ]);
    assert.ok(channel.activities >= 3);
  });

  test('heartbeat, progress, and abort reaching ctx.signal', async () => {
    const { channel, attempt } = run('signals');
    await waitFor('progress', () => channel.progresses.length === 2);
    assert.deepEqual(channel.heartbeats, [{ step: 1 }]);
    assert.deepEqual(channel.progresses, [{ fraction: 0.25, done: 1, total: 4, message: 'a quarter' }, { fraction: 0.5 }]);
    attempt.abort('timeout after 1s');
    assert.deepEqual(await attempt.done, { type: 'returned', value: { aborted: true, reason: 'attempt aborted: timeout after 1s' } });
  });

  test('an abort that came before the task first looked at ctx.signal: the signal it gets is already aborted', async () => {
    const channel = new RecordingChannel();
    let answer!: (current: boolean) => void;
    channel.isCurrent = () => new Promise<boolean>((resolve) => (answer = resolve));
    const attempt = executor.start(spec('late-signal'), channel);
    await waitFor('heartbeat', () => channel.heartbeats.length === 1);
    attempt.abort('timeout after 1s');
    // The reply follows the abort on the same channels, so the runner has taken the abort when the task goes on.
    answer(true);
    assert.deepEqual(await attempt.done, { type: 'returned', value: { aborted: true, reason: 'attempt aborted: timeout after 1s' } });
  });

  test('1,000 ctx.spawn calls are one channel.spawn round trip', async () => {
    const { channel, attempt } = run('fanout', { n: 1000 });
    assert.deepEqual(await attempt.done, { type: 'returned', value: 1000 });
    assert.equal(channel.spawnCalls.length, 1);
    assert.equal(channel.spawnCalls[0]!.length, 1000);
    assert.deepEqual(channel.spawnCalls[0]![7], { task: 'noop', input: { i: 7 }, key: '7' });
    assert.equal(channel.allCalls.length, 1);
    assert.equal(channel.allCalls[0]!.children[999]!.jobId, 'child-999');
  });

  test('a failed child policy is a ChildrenFailedError inside the task', async () => {
    const channel = new RecordingChannel();
    channel.allFailure = { kind: 'children', message: '1 of 1 children failed', details: { failed: [{ key: 'only', jobId: 'x', kind: 'error', message: 'no' }] } };
    const end = await executor.start(spec('fanout-fails'), channel).done;
    assert.deepEqual(end, { type: 'returned', value: { name: 'ChildrenFailedError', message: '1 of 1 children failed', kind: 'children' } });
  });

  test('memoryMb: an unbounded allocation ends oom and the host survives', async () => {
    const before = executor.hostPids();
    const end = await run('hog', null, { memoryMb: 128 }).attempt.done;
    assert.equal(end.type, 'oom', JSON.stringify(end));
    const after = await run('whoami').attempt.done;
    assert.ok(after.type === 'returned');
    assert.ok(before.includes((after.value as { pid: number }).pid), 'the next attempt ran in the same host');
  });

  test('100 sequential no-op attempts reuse one thread in one host', async () => {
    const hostsBefore = executor.hostsStarted;
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const end = await run('whoami').attempt.done;
      assert.ok(end.type === 'returned');
      const v = end.value as { pid: number; threadId: number };
      seen.add(`${v.pid}/${v.threadId}`);
    }
    assert.equal(seen.size, 1, [...seen].join(' '));
    assert.equal(executor.hostsStarted, hostsBefore);
  });

  test('captureHang of a busy thread names the task line, within its budget', async () => {
    const { channel, attempt } = run('busy');
    await waitFor('start', () => channel.heartbeats.length === 1);
    const { value, ms } = await timed(attempt.captureHang(1_000));
    assert.ok(ms < 1_300, `capture took ${ms} ms`);
    assert.ok(value.stack?.some((f) => f.file.includes('exec-tasks')), JSON.stringify(value));
    await attempt.kill();
    assert.deepEqual(await attempt.done, { type: 'killed' });
  });

  test('captureHang answers within its budget and never throws', async () => {
    const { channel, attempt } = run('forever');
    await waitFor('start', () => channel.heartbeats.length === 1);
    const { value, ms } = await timed(attempt.captureHang(300));
    assert.ok(Array.isArray(value.notes));
    assert.ok(ms < 800, `capture took ${ms} ms`);
    await attempt.kill();
    assert.deepEqual(await attempt.done, { type: 'killed' });
    assert.deepEqual(await attempt.captureHang(100), { notes: ['the attempt had already ended when its hang was captured'] });
    await attempt.kill(); // a second kill of an ended attempt is a no-op
  });
});

describe('thread executor: ctx.exec', () => {
  test('program output becomes log lines; its pid is forwarded', async () => {
    const { channel, attempt } = run('exec-echo');
    const end = await attempt.done;
    assert.deepEqual(end, { type: 'returned', value: { exitCode: 0, stdout: 'out-line\n' } });
    assert.ok(channel.logs.some((l) => l.stream === 'stdout' && l.line === 'out-line'));
    assert.ok(channel.logs.some((l) => l.stream === 'stderr' && l.line === 'err-line'));
    assert.equal(channel.started.length, 1);
    assert.deepEqual(channel.ended, channel.started);
  });

  test('a program started by ctx.exec dies with its killed attempt', async () => {
    const { channel, attempt } = run('exec-hang');
    await waitFor('the program to start', () => channel.started.length === 1);
    const [pid] = channel.started;
    assert.deepEqual(attempt.pids(), [pid]);
    assert.ok(alive(pid!));
    await attempt.kill();
    assert.deepEqual(await attempt.done, { type: 'killed' });
    await waitFor('the program to be gone', () => !alive(pid!), 1_000);
  });
});

describe('thread executor: hangs end within the kill bound', () => {
  for (const task of ['busy', 'forever', 'atomics-wait']) {
    test(`${task}: terminate ends the thread, the host lives on and goes quiet`, async () => {
      const { channel, attempt } = run(task);
      await waitFor(`${task} to start`, () => channel.heartbeats.length === 1);
      const [host] = executor.hostPids();
      const { ms } = await timed(attempt.kill());
      assert.ok(ms < 1_000, `kill took ${ms} ms`);
      assert.deepEqual(await attempt.done, { type: 'killed' });
      assert.ok(alive(host!), 'the host survived');
      const t0 = cpuTicks(host!);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const spent = cpuTicks(host!) - t0;
      assert.ok(spent <= 5, `host still burning CPU after the kill: ${spent} ticks in 300 ms`);
    });
  }

  for (const task of ['fifo', 'pbkdf2']) {
    test(`${task}: an unterminable thread costs its host; the other attempt there dies collaterally`, async () => {
      const fifo = join(dir, `${task}.fifo`);
      if (task === 'fifo') execFileSync('mkfifo', [fifo]);
      const stuck = run(task, { path: fifo });
      const bystander = run('forever');
      await waitFor('both to start', () => stuck.channel.heartbeats.length === 1 && bystander.channel.heartbeats.length === 1);
      const pidOf = async () => {
        const probe = await run('whoami').attempt.done;
        assert.ok(probe.type === 'returned');
        return (probe.value as { pid: number }).pid;
      };
      const host = await pidOf();
      const { ms } = await timed(stuck.attempt.kill());
      assert.ok(ms < 1_000, `kill took ${ms} ms`);
      assert.ok(ms >= KILL_BOUND_MS - 50, 'terminate was tried first');
      assert.deepEqual(await stuck.attempt.done, { type: 'killed' });
      const lost: AttemptEnd = await bystander.attempt.done;
      assert.equal(lost.type, 'died');
      assert.ok(lost.type === 'died' && lost.collateral === true);
      await waitFor('the host to be gone', () => !alive(host), 1_000);
      assert.notEqual(await pidOf(), host, 'a new host serves the next attempt');
    });
  }

  test('a host that dies on its own: its attempts died, not collateral', async () => {
    const { channel, attempt } = run('forever');
    await waitFor('start', () => channel.heartbeats.length === 1);
    for (const pid of executor.hostPids()) process.kill(pid, 'SIGKILL');
    const end = await attempt.done;
    assert.equal(end.type, 'died');
    assert.ok(end.type === 'died' && end.collateral === false);
    assert.match(end.message, /SIGKILL/);
  });
});

describe('thread executor: speed', () => {
  // A throughput gate needs a quiet machine: it belongs in bench/, not here. What this test holds on any machine:
  // the per-attempt cost does not grow with the number of attempts run (a map that never shrinks, a listener per
  // attempt, a host forked per attempt would all show), and warm hosts and threads are reused.
  test('no-op round trips: cost does not grow with attempts run; hosts and threads are reused', async (t) => {
    await run('noop').attempt.done; // warm
    const hostsBefore = executor.hostsStarted;
    const n = 2_000;
    const each: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await run('noop').attempt.done;
      each.push(performance.now() - started);
    }
    const seqMs = performance.now() - t0;
    assert.equal(executor.hostsStarted, hostsBefore, 'sequential attempts run on the warm host');
    const concurrency = 8;
    const perLane = 250;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perLane; i++) await run('noop').attempt.done;
      }),
    );
    const concMs = performance.now() - t1;
    const quarter = n / 4;
    const first = median(each.slice(0, quarter));
    const last = median(each.slice(-quarter));
    const line =
      `sequential: ${n} no-op attempts in ${seqMs.toFixed(0)} ms = ${((seqMs * 1000) / n).toFixed(0)} µs/attempt, ${((n * 1000) / seqMs).toFixed(0)}/s ` +
      `(median ${(first * 1000).toFixed(0)} µs first quarter, ${(last * 1000).toFixed(0)} µs last); ` +
      `${concurrency} concurrent: ${concurrency * perLane} in ${concMs.toFixed(0)} ms = ${((concurrency * perLane * 1000) / concMs).toFixed(0)}/s`;
    t.diagnostic(line);
    console.log(line);
    // Medians shrug off the load spikes of a shared machine; growth from one quarter to the last is a leak.
    assert.ok(last <= first * 3 + 0.5, `per-attempt cost grew: ${line}`);
    // 8 lanes on 4 threads per host need at most one more host, however many attempts they run.
    assert.ok(executor.hostsStarted - hostsBefore <= 1, `${executor.hostsStarted - hostsBefore} hosts forked for 8 lanes`);
    assert.ok(executor.hostPids().length <= 2 + 1, `hosts alive: ${executor.hostPids()}`);
  });

  test('a supervisor that dies leaves nothing behind (host processes, threads and ctx.exec programs)', async () => {
    const pids = await pidsOfDeadSupervisor('thread');
    assert.ok(pids.length >= 2, JSON.stringify(pids));
    await waitFor('every process of the dead supervisor to be gone', () => pids.every((pid) => !alive(pid)), 2_000);
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
