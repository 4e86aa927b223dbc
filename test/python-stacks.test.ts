// Python stacks in hang reports of command tasks (issue #14): each stuck Python process shows the file:line it is
// stuck on, per thread — the stdin wait, a multiprocessing deadlock, a multiprocessing pool, a time.sleep in a
// thread — and a task can opt out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { openTestVigil, startWorker, type TestVigil } from './helpers/engine.js';
import { formatHangReport } from '../src/forensics/format.js';
import { parseFaulthandler } from '../src/forensics/python-stack.js';
import type { HangReport, Json, ProcessSnapshot } from '../src/index.js';

const TASKS = resolve('test/fixtures/beyond-tasks.ts');
const fixture = (name: string): string => resolve('test/fixtures', name);
const lineOf = (file: string, text: string): number => readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;

describe('Python stacks in hang reports', () => {
  let t: TestVigil;
  before(async () => {
    t = await openTestVigil({ tasks: TASKS });
    await startWorker(t.vigil, { concurrency: 4 });
  });
  after(async () => {
    await t.cleanup();
  });

  async function hangReport(task: string, input: Json): Promise<HangReport> {
    const job = await t.vigil.wait((await t.vigil.submit(task, input)).id, { timeout: '30s' });
    assert.equal(job.error?.kind, 'timeout', JSON.stringify(job.error));
    const [attempt] = await t.vigil.attempts(job.id);
    assert.ok(attempt?.hangReport, 'a hang report');
    return attempt.hangReport;
  }

  const pythons = (r: HangReport, match: string): ProcessSnapshot[] => (r.where.processes ?? []).filter((p) => p.command.includes(match));
  /** The innermost frame of `file` in any thread of the process. */
  const stuckAt = (p: ProcessSnapshot, file: string): number[] =>
    (p.pythonStack ?? []).flatMap((th) => th.frames.filter((f) => f.file === file).slice(0, 1).map((f) => f.line));

  test('stdin wait: the line of input()', async () => {
    const r = await hangReport('py.stdin', null);
    const [p] = pythons(r, 'python3');
    assert.ok(p?.pythonStack, JSON.stringify(r.where));
    const frame = p.pythonStack.flatMap((th) => th.frames)[0]!;
    assert.deepEqual([frame.file, frame.line, frame.functionName], ['<string>', 2, '<module>']);
    assert.match(formatHangReport(r), /File "<string>", line 2, in <module>/);
  });

  test('a multiprocessing deadlock: the parent at result.get(), each pool worker at `with lock`', async () => {
    const script = fixture('forensics-mp-deadlock.py');
    const r = await hangReport('py.script', { argv: [script] });
    const procs = pythons(r, 'forensics-mp-deadlock.py');
    assert.equal(procs.length, 3, JSON.stringify(r.where));
    const parent = procs.find((p) => !procs.some((q) => q.pid === p.ppid))!;
    assert.deepEqual(stuckAt(parent, script), [lineOf(script, 'result.get()')], JSON.stringify(parent.pythonStack));
    for (const w of procs.filter((p) => p !== parent)) {
      assert.ok(stuckAt(w, script).includes(lineOf(script, 'with lock:')), `worker ${w.pid}: ${JSON.stringify(w.pythonStack)}`);
    }
  });

  test('a multiprocessing pool (cmd-pool.py): the workers in time.sleep, the parent in pool.map', async () => {
    const script = fixture('cmd-pool.py');
    const r = await hangReport('py.script', { argv: [script] });
    const procs = pythons(r, 'cmd-pool.py');
    assert.equal(procs.length, 3, JSON.stringify(r.where));
    const parent = procs.find((p) => !procs.some((q) => q.pid === p.ppid))!;
    assert.deepEqual(stuckAt(parent, script), [lineOf(script, 'pool.map(block')]);
    for (const w of procs.filter((p) => p !== parent)) assert.ok(stuckAt(w, script).includes(lineOf(script, 'time.sleep(100000)')), JSON.stringify(w.pythonStack));
  });

  test('time.sleep in a thread: the napper thread at its sleep, main at join()', async () => {
    const script = fixture('cmd-sleep-thread.py');
    const r = await hangReport('py.script', { argv: [script] });
    const [p] = pythons(r, 'cmd-sleep-thread.py');
    assert.ok(p?.pythonStack, JSON.stringify(r.where));
    assert.equal(p.pythonStack.length, 2, 'two threads');
    const lines = stuckAt(p, script).sort((a, b) => a - b);
    assert.deepEqual(lines, [lineOf(script, 'NAP_LINE'), lineOf(script, 'JOIN_LINE')]);
    assert.match(formatHangReport(r), new RegExp(`File "${script}", line ${lineOf(script, 'NAP_LINE')}, in nap`));
  });

  test('cmd-print-once.py: the line of its sleep', async () => {
    const script = fixture('cmd-print-once.py');
    const r = await hangReport('py.script', { argv: [script] });
    const [p] = pythons(r, 'cmd-print-once.py');
    assert.deepEqual(stuckAt(p!, script), [lineOf(script, 'time.sleep(100000)')]);
  });

  test('opt-out (pythonStacks: false): /proc facts only, no Python stack', async () => {
    const r = await hangReport('py.optout', { argv: [fixture('cmd-print-once.py')] });
    const [p] = pythons(r, 'cmd-print-once.py');
    assert.ok(p, JSON.stringify(r.where));
    assert.equal(p.pythonStack, undefined);
    assert.ok(p.wchan);
  });
});

test('parseFaulthandler reads threads and frames, innermost first', () => {
  const text = 'Thread 0x00007f01 (most recent call first):\n  File "/a.py", line 5 in nap\n  File "/usr/lib/python3.11/threading.py", line 975 in run\n\nCurrent thread 0x00007f02 (most recent call first):\n  File "/a.py", line 10 in <module>\n';
  assert.deepEqual(parseFaulthandler(text), [
    { thread: '0x00007f01', current: false, frames: [{ functionName: 'nap', file: '/a.py', line: 5, column: 0 }, { functionName: 'run', file: '/usr/lib/python3.11/threading.py', line: 975, column: 0 }] },
    { thread: '0x00007f02', current: true, frames: [{ functionName: '<module>', file: '/a.py', line: 10, column: 0 }] },
  ]);
});
