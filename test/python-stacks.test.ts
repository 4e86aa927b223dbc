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

// Every case is one job that hangs until its 2 s timeout: they are submitted together in before() and each test awaits
// and checks its own, instead of six 2 s timeouts one after another. Three at a time (two waves): each case starts
// one to three Python processes that must reach their blocking line within the 2 s on a loaded 2-core machine.
const CASES: Record<string, { task: string; input: Json }> = {
  stdin: { task: 'py.stdin', input: null },
  deadlock: { task: 'py.script', input: { argv: [fixture('forensics-mp-deadlock.py')] } },
  pool: { task: 'py.script', input: { argv: [fixture('cmd-pool.py')] } },
  thread: { task: 'py.script', input: { argv: [fixture('cmd-sleep-thread.py')] } },
  printOnce: { task: 'py.script', input: { argv: [fixture('cmd-print-once.py')] } },
  optOut: { task: 'py.optout', input: { argv: [fixture('cmd-print-once.py')] } },
};

describe('Python stacks in hang reports', () => {
  let t: TestVigil;
  const submitted = new Map<string, Promise<string>>();
  before(async () => {
    t = await openTestVigil({ tasks: TASKS });
    await startWorker(t.vigil, { concurrency: 3 });
    for (const [name, c] of Object.entries(CASES)) {
      const id = t.vigil.submit(c.task, c.input).then((j) => j.id);
      id.catch(() => undefined); // awaited (and reported) by its test
      submitted.set(name, id);
    }
  });
  after(async () => {
    await t.cleanup();
  });

  async function hangReport(name: keyof typeof CASES): Promise<HangReport> {
    const job = await t.vigil.wait(await submitted.get(name)!, { timeout: '30s' });
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
    const r = await hangReport('stdin');
    const [p] = pythons(r, 'python3');
    assert.ok(p?.pythonStack, JSON.stringify(r.where));
    const frame = p.pythonStack.flatMap((th) => th.frames)[0]!;
    assert.deepEqual([frame.file, frame.line, frame.functionName], ['<string>', 2, '<module>']);
    assert.match(formatHangReport(r), /File "<string>", line 2, in <module>/);
  });

  test('a multiprocessing deadlock: the parent at result.get(), each pool worker at `with lock`', async () => {
    const script = fixture('forensics-mp-deadlock.py');
    const r = await hangReport('deadlock');
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
    const r = await hangReport('pool');
    const procs = pythons(r, 'cmd-pool.py');
    assert.equal(procs.length, 3, JSON.stringify(r.where));
    const parent = procs.find((p) => !procs.some((q) => q.pid === p.ppid))!;
    assert.deepEqual(stuckAt(parent, script), [lineOf(script, 'pool.map(block')]);
    for (const w of procs.filter((p) => p !== parent)) assert.ok(stuckAt(w, script).includes(lineOf(script, 'time.sleep(100000)')), JSON.stringify(w.pythonStack));
  });

  test('time.sleep in a thread: the napper thread at its sleep, main at join()', async () => {
    const script = fixture('cmd-sleep-thread.py');
    const r = await hangReport('thread');
    const [p] = pythons(r, 'cmd-sleep-thread.py');
    assert.ok(p?.pythonStack, JSON.stringify(r.where));
    assert.equal(p.pythonStack.length, 2, 'two threads');
    const lines = stuckAt(p, script).sort((a, b) => a - b);
    assert.deepEqual(lines, [lineOf(script, 'NAP_LINE'), lineOf(script, 'JOIN_LINE')]);
    assert.match(formatHangReport(r), new RegExp(`File "${script}", line ${lineOf(script, 'NAP_LINE')}, in nap`));
  });

  test('cmd-print-once.py: the line of its sleep', async () => {
    const script = fixture('cmd-print-once.py');
    const r = await hangReport('printOnce');
    const [p] = pythons(r, 'cmd-print-once.py');
    assert.deepEqual(stuckAt(p!, script), [lineOf(script, 'time.sleep(100000)')]);
  });

  test('opt-out (pythonStacks: false): /proc facts only, no Python stack', async () => {
    const r = await hangReport('optOut');
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
