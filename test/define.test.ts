// Task definitions fail when the module loads, with a message naming the task and the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTask, TaskDefinitionError } from '../src/index.js';
import { parseDuration } from '../src/task/duration.js';
import { retryDelayMs } from '../src/task/retry.js';

const run = () => null;

test('durations: accepted forms and clear errors', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.equal(parseDuration(1200), 1200);
  // Compound forms, largest unit first (DESIGN §3).
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1m 30s'), 90_000);
  assert.equal(parseDuration('2d12h'), 216_000_000);
  assert.equal(parseDuration('2w'), 14 * 86_400_000);
  for (const bad of ['10 minutes', '5y', '', '-1s', 'ms', '30m1h', '1h1h', '1h30', NaN, -5]) {
    assert.throws(() => parseDuration(bad as string, 'timeout'), /timeout: .* is not a valid duration/);
  }
});

test('invalid options fail at definition time, naming the task and the option', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: 'a', run, timout: '1s' }, /task "a": option "timout" is not a known option/],
    [{ name: 'b', run, timeout: '10 minutes' }, /task "b": option "timeout" is not a valid duration/],
    [{ name: 'c', run, timeout: 0 }, /task "c": option "timeout" must be greater than 0/],
    [{ name: 'd', run, timeout: '0s' }, /task "d": option "timeout" must be greater than 0/],
    [{ name: 'e', run, retries: -1 }, /task "e": option "retries" must be an integer/],
    [{ name: 'f', run, retries: { max: 2, jiter: 0.1 } }, /task "f": option "retries.jiter" is not a known retry option/],
    [{ name: 'g', run, memoryMb: 0 }, /task "g": option "memoryMb" must be a positive integer/],
    [{ name: 'h', run, isolation: 'fiber' }, /task "h": option "isolation" must be 'thread' or 'process'/],
    [{ name: 'i', run, silence: '1s' }, /task "i": option "silence" is not a known option of a function task/],
    [{ name: 'j', command: () => ['true'], stdin: 'maybe' }, /task "j": option "stdin" must be/],
    [{ name: 'k', run, heartbeat: 'often' }, /task "k": option "heartbeat" is not a valid duration/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => defineTask(options as never), (err: unknown) => err instanceof TaskDefinitionError && message.test(err.message));
  }
  assert.throws(() => defineTask({ name: 'has space', run } as never), /"name" must be/);
  assert.throws(() => defineTask({ name: 'both', run, command: () => ['x'] } as never), /exactly one of "run"/);
});

test('defaults: a timeout is always set; retries default to 2', () => {
  const t = defineTask({ name: 'defaults', run });
  assert.equal(t.options.timeoutMs, 30 * 60_000);
  assert.equal(t.options.retry.maxAttempts, 3);
  assert.equal(t.options.isolation, 'thread');
  const c = defineTask({ name: 'cmd', command: () => ['true'] });
  assert.equal(c.options.isolation, 'process');
  assert.equal(c.stdin, 'closed');
});

test('retry delays grow exponentially, are capped, and jitter only shortens them', () => {
  const policy = { maxAttempts: 10, backoffMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => retryDelayMs(policy, n)), [100, 200, 400, 800, 1_000]);
  const jittered = { ...policy, jitter: 0.5 };
  for (let i = 0; i < 100; i++) {
    const d = retryDelayMs(jittered, 3);
    assert.ok(d >= 200 && d <= 400);
  }
});
