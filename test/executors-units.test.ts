import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Lifecycle } from '../src/executors/attempt-base.js';
import { END_MARKER, EndMarkerScanner, Outbox } from '../src/executors/ipc.js';
import { ThreadChildren, threadDescendants } from '../src/executors/proctree.js';
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

test('Outbox: the messages of one turn go out as one array, in order; the next turn starts a new one', async () => {
  const writes: number[][] = [];
  const outbox = new Outbox<number>((batch) => writes.push(batch));
  outbox.push(1);
  outbox.push(2);
  await Promise.resolve();
  outbox.push(3);
  assert.deepEqual(writes, [], 'nothing is written before the turn ends');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [[1, 2, 3]]);
  outbox.push(4);
  outbox.flush();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [[1, 2, 3], [4]], 'flush() writes at once, and the scheduled flush finds nothing left');
});

test('ThreadChildren: one kept-open fd reads the thread\'s children as threadDescendants does, also after they exit', { skip: process.platform !== 'linux' }, async () => {
  const tid = process.pid; // the main thread's tid is the pid
  const children = new ThreadChildren(tid);
  try {
    assert.deepEqual(children.descendants(), []);
    // More children than the 512-byte buffer holds pids of: the whole list is read.
    const sleepers = Array.from({ length: 120 }, () => spawn('sleep', ['30'], { stdio: 'ignore' }));
    const pids = sleepers.map((c) => c.pid!).sort((a, b) => a - b);
    const seen = children.descendants().map((s) => s.pid).sort((a, b) => a - b);
    assert.deepEqual(seen, pids);
    assert.deepEqual(threadDescendants(tid).map((s) => s.pid).sort((a, b) => a - b), pids);
    const exited = sleepers.map((c) => new Promise((r) => c.once('exit', r)));
    for (const c of sleepers) c.kill('SIGKILL');
    await Promise.all(exited);
    assert.deepEqual(children.descendants(), [], 'the same fd reads the list again from its start');
  } finally {
    children.close();
  }
});

test('importing the worker and the executors does not open stdin (node:process imported as ESM would)', () => {
  // Through ESM, `import { platform } from 'node:process'` builds a facade that reads every property of process,
  // process.stdin included: a worker started with a pipe on stdin then held a handle it never asked for.
  const code = `for (const m of ['./src/engine/worker.ts', './src/executors/thread-executor.ts', './src/executors/process-executor.ts', './src/executors/command-executor.ts', './src/forensics/proc-snapshot.ts', './src/forensics/os-threads.ts']) await import(m);
process.stdout.write(JSON.stringify(process._getActiveHandles().map((h) => h._handle?.fd ?? h.fd)));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'], encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0);
  const fds = JSON.parse(r.stdout) as Array<number | undefined>;
  assert.ok(!fds.includes(0), `fd 0 (stdin) was opened: handles on fds ${JSON.stringify(fds)}`);
});
