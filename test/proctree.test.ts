import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killTree, parseStat, readProcStat, TreeTracker, waitGone } from '../src/executors/proctree.js';
import { ByteTail, LineSplitter, LogBudget, lineText, textLines } from '../src/executors/line-splitter.js';
import { CUT_LINE_KEEP_BYTES, cutLogLine, MAX_LOG_LINE_BYTES } from '../src/log-line.js';

const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== 'Z';
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

/** A program leading its own process group, as the executors start them. */
function startGroup(argv: string[]): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  child.on('error', () => undefined);
  // A failed test must not leave its tree running.
  after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone.
    }
  });
  return child;
}

function killIfAlive(pid: number): void {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone.
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line from ${child.pid} within 10 s`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------- /proc stat

test('parseStat: a comm with spaces and parentheses, start time and rss', () => {
  const text = '4242 (my (odd) prog) S 17 4242 4242 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 1 0 987654 10000000 250 18446744073709551615';
  const stat = parseStat(text);
  assert.deepEqual(
    { ...stat, rssKb: undefined },
    { pid: 4242, ppid: 17, pgid: 4242, sid: 4242, state: 'S', comm: 'my (odd) prog', startTime: 987654, rssKb: undefined },
  );
  assert.ok((stat?.rssKb ?? 0) >= 250 * 4);
  assert.equal(parseStat('garbage'), null);
});

test('readProcStat: this process; null for a pid that does not exist', () => {
  const self = readProcStat(process.pid);
  assert.equal(self?.pid, process.pid);
  assert.equal(self?.ppid, process.ppid);
  assert.ok((self?.rssKb ?? 0) > 10_000);
  assert.equal(readProcStat(2 ** 22 + 1), null);
});

// ---------------------------------------------------------------------------------------------------- tracker

test('TreeTracker: root, descendants, group members; rssKb; killTree with grace; unrelated processes untouched', async () => {
  const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
  const root = startGroup(['sh', '-c', 'sleep 300 & sleep 300 & echo ready; wait']);
  try {
    await firstLine(root);
    const tracker = new TreeTracker(root.pid!);
    assert.equal(tracker.pgid, root.pid);
    await waitFor('sh and two sleeps', () => tracker.sample().length === 3, 3_000);
    const pids = tracker.sample();
    assert.equal(pids[0], root.pid, 'root first');
    assert.ok(!pids.includes(bystander.pid!));
    assert.ok(tracker.rssKb() > 0);
    const t0 = Date.now();
    await killTree(tracker, 2_000);
    assert.ok(Date.now() - t0 < 1_000, 'SIGTERM was enough: no wait for the whole grace');
    assert.deepEqual(tracker.sample(), []);
    assert.ok(pids.every((pid) => !alive(pid)));
    assert.ok(alive(bystander.pid!), 'a process outside the tree is left alone');
  } finally {
    bystander.kill('SIGKILL');
  }
});

test('killTree: a tree that ignores SIGTERM is SIGKILLed after the grace', async () => {
  const root = startGroup(['sh', '-c', "trap '' TERM; sh -c \"trap '' TERM; echo ready; while :; do sleep 1; done\" & wait"]);
  await firstLine(root);
  const tracker = new TreeTracker(root.pid!);
  const pids = tracker.sample();
  assert.ok(pids.length >= 2);
  const t0 = Date.now();
  await killTree(tracker, 500);
  const took = Date.now() - t0;
  assert.ok(took >= 450 && took < 2_000, `took ${took} ms`);
  assert.ok(pids.every((pid) => !alive(pid)));
});

test('TreeTracker remembers a setsid() daemon after its parent exited, and kills it', async () => {
  const root = startGroup(['python3', join(FIXTURES, 'cmd-setsid.py'), 'daemon', '1']);
  const info = JSON.parse(await firstLine(root)) as { main: number; child: number; grandchild: number };
  after(() => [info.main, info.child, info.grandchild].forEach(killIfAlive));
  const tracker = new TreeTracker(root.pid!);
  assert.ok(tracker.sample().includes(info.grandchild), 'a descendant while its parent lives');
  await waitFor('the intermediate child exits', () => !alive(info.child), 5_000);
  const stat = readProcStat(info.grandchild)!;
  assert.notEqual(stat.ppid, info.child);
  assert.notEqual(stat.pgid, tracker.pgid);
  assert.ok(tracker.sample().includes(info.grandchild), 'remembered by pid and start time');
  // A fresh tracker never saw it linked: exactly the gap documented for double forks between two samples.
  assert.ok(!new TreeTracker(root.pid!).sample().includes(info.grandchild));
  await killTree(tracker, 1_000);
  assert.ok(!alive(info.grandchild) && !alive(info.main));
  assert.ok(await waitGone(tracker, 100));
});

// ---------------------------------------------------------------------------------------------------- lines

function split(chunks: Array<Buffer | string>, max?: number): string[] {
  const out: string[] = [];
  const splitter = new LineSplitter(textLines((l) => out.push(l)), max);
  for (const c of chunks) splitter.write(typeof c === 'string' ? Buffer.from(c) : c);
  splitter.end();
  return out;
}

test('LineSplitter: LF, CRLF, lone CR, a final line without newline, empty lines', () => {
  assert.deepEqual(split(['a\nb\r\nc\rd']), ['a', 'b', 'c', 'd']);
  assert.deepEqual(split(['one\r', '\ntwo\n\nthree']), ['one', 'two', '', 'three'], 'CRLF split across chunks is one break');
  assert.deepEqual(split(['par', 'tial', ' line\n', 'end']), ['partial line', 'end']);
  assert.deepEqual(split([]), []);
});

test('LineSplitter: long lines are cut with a marker, memory stays one line', () => {
  const long = 'x'.repeat(20_000);
  assert.deepEqual(split([`${long}\nshort\n`], 100), [`${'x'.repeat(100)}…[cut 19900 bytes]`, 'short']);
  // The same line arriving in small chunks, and a 10 MiB line with no newline at all.
  const chunks = Array.from({ length: 200 }, () => 'x'.repeat(100));
  assert.deepEqual(split([...chunks, '\n'], 100), [`${'x'.repeat(100)}…[cut 19900 bytes]`]);
  const huge = Buffer.alloc(10 * 1024 * 1024, 0x61);
  const out = split([huge, huge]);
  assert.equal(out.length, 1);
  // At the default limit a cut line is MAX_LOG_LINE_BYTES in all, marker included: the store keeps it as it is.
  assert.equal(out[0], `${'a'.repeat(CUT_LINE_KEEP_BYTES)}…[cut ${2 * huge.length - CUT_LINE_KEEP_BYTES} bytes]`);
  assert.ok(Buffer.byteLength(out[0]!) <= MAX_LOG_LINE_BYTES);
  assert.equal(cutLogLine(out[0]!), out[0], 'a line cut by an executor is not cut again by the store');
});

test('LineSplitter: UTF-8 split across chunks; a cut never splits a character', () => {
  const euro = Buffer.from('€'); // 3 bytes
  assert.deepEqual(split([euro.subarray(0, 1), euro.subarray(1), '\n']), ['€']);
  // 16-byte limit: five € are 15 bytes, the sixth would straddle the cut.
  const out = split(['€€€€€€€€\n'], 16);
  assert.equal(out[0], '€€€€€…[cut 9 bytes]');
});

test('lineText: binary output becomes safe text (invalid UTF-8 replaced, control characters escaped)', () => {
  const bin = Buffer.from([0x00, 0x41, 0xff, 0xfe, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x09, 0x42, 0x7f]);
  assert.equal(lineText(bin, 0), '\\x00A\uFFFD\uFFFD\\x1b[31m\tB\\x7f');
  const lines = split([Buffer.from([0x00, 0x0a, 0xc3, 0x28, 0x0a])]);
  assert.deepEqual(lines, ['\\x00', '\uFFFD(']);
  assert.ok(lines.every((l) => !l.includes('\u0000')));
});

test('ByteTail: keeps the last N bytes across chunk sizes; last lines for messages', () => {
  const tail = new ByteTail(10);
  for (const c of ['abc', 'defgh', 'ijklmnop', 'q']) tail.write(Buffer.from(c));
  assert.equal(tail.text(), 'hijklmnopq');
  assert.equal(tail.total, 17);
  assert.ok(tail.truncated);
  tail.write(Buffer.from('0123456789ABCDEF'));
  assert.equal(tail.text(), '6789ABCDEF');
  const err = new ByteTail(64);
  err.write(Buffer.from('a very long first line that will be cut\nTraceback:\n  boom\r\n\nValueError: x\n'));
  assert.deepEqual(err.lastLines(2), ['  boom', 'ValueError: x']);
  assert.deepEqual(err.lastLines(10), ['Traceback:', '  boom', 'ValueError: x'], 'the fragment at the cut is left out');
});

test('LogBudget: a burst, then skipping with one note per run of skipped lines', () => {
  const budget = new LogBudget({ burstBytes: 1_000, bytesPerSecond: 1 });
  let admitted = 0;
  for (let i = 0; i < 100; i++) if (budget.admit('stdout', 36)) admitted++;
  assert.equal(admitted, 10); // 1000 / (36 + 64)
  const note = budget.takeSkipNote();
  assert.match(note ?? '', /^\[vigil\] 90 lines \(3.2 KiB\) of output not logged: over the log budget/);
  assert.equal(budget.takeSkipNote(), null);
  assert.equal(budget.admit('stderr', 10_000, 1_000_000), false);
  const summary = budget.summary();
  assert.deepEqual(summary?.trailing, { stdout: 90, stderr: 1 });
  assert.match(summary?.note ?? '', /1 line \(977 KiB\).*91 lines .* in all; the last lines follow \(stdout: 50, stderr: 1\)/);
});
