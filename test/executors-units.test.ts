import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle } from '../src/executors/attempt-base.js';
import { END_MARKER, EndMarkerScanner } from '../src/executors/ipc.js';
import { LineSplitter, textLines } from '../src/executors/line-splitter.js';
import { Throttle } from '../src/executors/throttle.js';

function scan(chunks: Array<string | Buffer>): string[] {
  const out: string[] = [];
  const scanner = new EndMarkerScanner(new LineSplitter(textLines((l) => out.push(l))), () => out.push('<END>'));
  for (const c of chunks) scanner.write(typeof c === 'string' ? Buffer.from(c) : c);
  scanner.flush();
  return out;
}

test('END_MARKER: cuts the attempt\'s output, also when split across chunks or after a partial or cut line', () => {
  assert.deepEqual(scan([`a\nb${END_MARKER}c\n`]), ['a', 'b', '<END>', 'c']);
  const m = Buffer.from(END_MARKER);
  for (let at = 1; at < m.length; at++) {
    assert.deepEqual(scan([Buffer.concat([Buffer.from('x'), m.subarray(0, at)]), m.subarray(at)]), ['x', '<END>'], `split at byte ${at}`);
  }
  // A NUL that only looks like the marker's start is output like any other byte.
  assert.deepEqual(scan(['a\u0000', 'b\n']), ['a\\x00b']);
  // A 100 KB line without a newline, then the marker: the line is logged cut, and the marker still counts.
  const lines = scan(['y'.repeat(100_000), END_MARKER, 'next\n']);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^y+…\[cut \d+ bytes\]$/);
  assert.deepEqual(lines.slice(1), ['<END>', 'next']);
  assert.deepEqual(scan([END_MARKER, END_MARKER]), ['<END>', '<END>']);
});

test('Lifecycle: only the transitions in the table happen', () => {
  type S = { name: 'a' } | { name: 'b'; n: number } | { name: 'c' };
  const life = new Lifecycle<S>({ a: ['b', 'c'], b: ['c'], c: [] }, { name: 'a' });
  assert.equal(life.to({ name: 'b', n: 1 }), true);
  assert.equal(life.to({ name: 'a' }), false, 'no way back');
  assert.deepEqual(life.state, { name: 'b', n: 1 });
  assert.equal(life.to({ name: 'c' }), true);
  assert.equal(life.to({ name: 'b', n: 2 }), false, 'a final state stays');
  assert.ok(life.is('c') && !life.is('a', 'b'));
});

test('Throttle: the first value at once, then at most one per interval, the latest, flushed at the end', async () => {
  const sent: number[] = [];
  const throttle = new Throttle<number>(50, (v) => sent.push(v));
  for (let i = 0; i < 1_000; i++) throttle.push(i);
  assert.deepEqual(sent, [0]);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(sent, [0, 999], 'the held value goes out when the interval has passed');
  throttle.push(1_000);
  throttle.push(1_001);
  throttle.flush();
  assert.deepEqual(sent, [0, 999, 1_001]);
  throttle.flush();
  assert.deepEqual(sent, [0, 999, 1_001], 'nothing held, nothing sent');
});
