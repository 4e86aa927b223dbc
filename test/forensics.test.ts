import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { formatHangReport } from '../src/forensics/format.js';
import { collectPendingResources } from '../src/forensics/pending.js';
import { processTree, snapshotProcesses, snapshotThreads } from '../src/forensics/proc-snapshot.js';
import { captureThreadStack } from '../src/forensics/thread-stack.js';
import type { HangReport, ProcessSnapshot } from '../src/types.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const hangsModule = join(fixtures, 'forensics-hangs.ts');
const threadEntry = join(fixtures, 'forensics-thread.mjs');
const hangsSource = readFileSync(hangsModule, 'utf8').split('\n');
const threadEntrySource = readFileSync(threadEntry, 'utf8').split('\n');
const lineOf = (marker: string): number => hangsSource.findIndex((l) => l.includes(marker)) + 1;
const RUNS = Number(process.env.FORENSICS_RUNS ?? 20);
const figures: string[] = [];

after(() => {
  // The capture-time figures the issue asks for, in the test output.
  for (const line of figures) console.log(`# ${line}`);
});

function stats(name: string, ms: number[]): { p50: number; p99: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const pick = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const result = { p50: pick(0.5), p99: pick(0.99) };
  figures.push(`${name}: capture p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms over ${ms.length}`);
  return result;
}

async function startThread(hang: string, extra: Record<string, unknown> = {}): Promise<Worker> {
  const worker = new Worker(threadEntry, { workerData: { module: hangsModule, hang, ...extra } });
  const [message] = (await withTimeout(once(worker, 'message'), 10_000, 'thread ready')) as [{ type: string }];
  assert.equal(message.type, 'ready');
  if (hang === 'spin' || hang === 'atomics') await withTimeout(once(worker, 'message'), 5000, 'thread hanging');
  return worker;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls a state (not a sleep as synchronisation): resolves with the first truthy value, fails after `ms`. */
async function until<T>(probe: () => T | null | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function captureMany(worker: Worker, runs: number): Promise<{ wheres: Array<HangReport['where']>; ms: number[] }> {
  const wheres: Array<HangReport['where']> = [];
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    wheres.push(await captureThreadStack(worker, 2000));
    ms.push(performance.now() - t0);
  }
  return { wheres, ms };
}

async function terminateInTime(worker: Worker): Promise<void> {
  const t0 = performance.now();
  await withTimeout(worker.terminate(), 2000, 'terminate() after captures');
  assert.ok(performance.now() - t0 < 2000);
}

describe('thread stacks (inspector, NodeWorker domain)', () => {
  test('a busy loop in a .ts task: names spin, the .ts file and the loop line', async () => {
    const worker = await startThread('spin');
    try {
      const { wheres, ms } = await captureMany(worker, RUNS);
      for (const where of wheres) {
        const top = where.stack?.[0];
        assert.ok(top, `no stack: ${JSON.stringify(where)}`);
        assert.equal(top.functionName, 'spin');
        assert.equal(top.file, hangsModule);
        assert.equal(top.line, lineOf('// SPIN_LINE'));
        assert.equal(where.stack?.[1]?.functionName, 'busy');
      }
      const text = formatHangReport(report(wheres[0]!));
      assert.match(text, new RegExp(`at spin \\(${escape(hangsModule)}:${lineOf('// SPIN_LINE')}:\\d+\\)`));
      assert.ok(stats('thread busy loop', ms).p99 < 500);
    } finally {
      // The thread was paused and resumed 20 times: it must still be terminable at once.
      await terminateInTime(worker);
    }
  });

  test('a thread that can not map its own frames (no process.getBuiltinModule): the .ts line still, through the debugger; a frame without a source map keeps its own', async () => {
    const worker = await startThread('spin', { noGetBuiltinModule: true });
    try {
      const { wheres } = await captureMany(worker, 3);
      for (const where of wheres) {
        const [top, second, entry] = where.stack ?? [];
        assert.equal(top?.functionName, 'spin', JSON.stringify(where));
        assert.equal(top.file, hangsModule);
        assert.equal(top.line, lineOf('// SPIN_LINE'));
        assert.equal(second?.functionName, 'busy');
        // The entry is plain JS with no source map: its own file and line (the switch's spin case).
        assert.equal(entry?.file, threadEntry);
        assert.equal(entry.line, threadEntrySource.findIndex((l) => l.includes("case 'spin'")) + 1);
      }
    } finally {
      await terminateInTime(worker);
    }
  });

  test('an idle thread awaiting a socket that never answers: empty stack, the socket among pending resources', async () => {
    const accepted: Socket[] = [];
    const server = createServer((socket) => accepted.push(socket)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const worker = await startThread('socket', { port });
    try {
      const [{ tid }] = (await withTimeout(once(worker, 'message'), 5000, 'the thread to connect')) as [{ tid: number }];
      // Told from the task's code, which then returns through Node's microtask loop: a capture that answers in a few
      // ms caught the thread there (processTicksAndRejections on top) on a loaded machine. Idle is when the thread
      // sleeps in its event loop: wait for that state (its OS thread in epoll_wait).
      await until(() => snapshotThreads('self').some((th) => th.tid === tid && th.state === 'S' && /^epoll_/.test(th.syscall ?? '')), 5000, 'the thread to sleep in its event loop');
      const { wheres, ms } = await captureMany(worker, RUNS);
      for (const where of wheres) {
        assert.deepEqual(where.stack, [], JSON.stringify(where));
        const socket = where.pendingResources?.find((r) => r.type === 'socket');
        assert.ok(socket, `no socket among ${JSON.stringify(where.pendingResources)}`);
        assert.match(socket.description, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.ok(where.notes.some((n) => n.includes('idle')));
      }
      assert.match(formatHangReport(report(wheres[0]!)), /Pending async resources:\n {2}- socket: TCP socket connected to/);
      assert.ok(stats('thread idle on a socket', ms).p99 < 500);
    } finally {
      await terminateInTime(worker);
      for (const socket of accepted) socket.destroy();
      server.close();
    }
  });

  test('a thread in Atomics.wait: its stack', async () => {
    const worker = await startThread('atomics');
    try {
      const { wheres, ms } = await captureMany(worker, RUNS);
      for (const where of wheres) {
        const top = where.stack?.[0];
        assert.equal(top?.functionName, 'atomicsWait', JSON.stringify(where));
        assert.equal(top?.file, hangsModule);
        assert.equal(top?.line, lineOf('// ATOMICS_LINE'));
      }
      assert.ok(stats('thread in Atomics.wait', ms).p99 < 500);
    } finally {
      await terminateInTime(worker);
    }
  });

  test('a thread blocked reading a FIFO: OS facts of the thread and a note, within the bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-forensics-'));
    const fifo = join(dir, 'never-written.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // Not in this process: a thread blocked in a syscall can not be terminated and would hang our exit.
    const host = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'forensics-fifo-host.mts'), fifo, hangsModule, String(RUNS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      // The host can not exit by itself (its thread is stuck in the kernel): wait for its last line, then kill it.
      const all = new Promise<void>((resolve) =>
        host.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          if (out.split('\n').length > RUNS) resolve();
        }),
      );
      await withTimeout(Promise.race([all, once(host, 'exit')]), 30_000, 'the FIFO host to finish its captures');
      const runs = out.trim().split('\n').map((line) => JSON.parse(line) as { ms: number; where: HangReport['where'] });
      assert.equal(runs.length, RUNS);
      for (const { where } of runs) {
        assert.equal(where.stack, undefined);
        assert.ok(where.notes.some((n) => /JS stack could not be taken.*system call/.test(n)), JSON.stringify(where.notes));
        const thread = where.processes?.[0]?.threads?.find((t) => t.syscall === 'openat' || t.syscall === 'read');
        assert.ok(thread, 'the blocked thread is listed');
        assert.ok(thread.wchan && thread.state === 'S');
        assert.ok(where.notes.some((n) => n.includes(`OS thread ${thread.tid}`) && n.includes(fifo)));
      }
      assert.match(formatHangReport(report(runs[0]!.where)), /opening .*never-written\.fifo \(a FIFO/);
      assert.ok(stats('thread blocked on a FIFO (budget 500 ms)', runs.map((r) => r.ms)).p99 < 500);
    } finally {
      host.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('400 captures of a thread idling between bursts of closures: the process survives every one (no inspector abort)', async () => {
    // Regression: Debugger.pause on an idle thread landed at a closure's entry and Node 20 aborted the whole host
    // ("Check failed: needs_context && current_scope_ == closure_scope_ ..." in ScopeIterator), taking every attempt
    // on it down. Reproduced 2 runs in 3 at 200 captures with the pause-based capture. Under load, 1 capture in 5 also
    // reported this live thread as "not found" (the attach notification trailed NodeWorker.enable's answer).
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(fixtures, 'forensics-capture-storm.mts'), '400'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.signal, null, `the capturing process died: ${r.stderr.slice(0, 600)}`);
    assert.equal(r.status, 0, r.stderr.slice(0, 600));
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { captures: number; idle: number; busy: number };
    assert.equal(result.captures, 400);
    assert.equal(result.idle + result.busy, 400, 'every capture either caught JS running or saw the thread idle');
  });

  test('no-op throughput of a thread: before any capture vs after one', async () => {
    const worker = await startThread('noop');
    const window = async (): Promise<number> => {
      worker.postMessage({ ms: 150 });
      const [m] = (await withTimeout(once(worker, 'message'), 5000, 'a rate')) as [{ perMs: number }];
      return m.perMs;
    };
    try {
      let before = 0;
      for (let i = 0; i < 5; i++) before = Math.max(before, await window());
      await captureThreadStack(worker, 2000);
      // A capture that left something behind (a paused or re-interrupted thread) slows every window after it; the
      // machine's load only some (a clean-clone CI run on a quiet machine once had 5 slow windows in a row: best-of-5
      // ratio 0.75, while a standalone run of the same capture measured 12 windows at 0.97-1.09). So: one window at
      // 0.8x the best before, within 20.
      const after: number[] = [];
      while (after.length < 20 && !(after.length > 0 && after.at(-1)! > 0.8 * before)) after.push(await window());
      const best = Math.max(...after);
      figures.push(`no-op calls in a thread: ${Math.round(before)}/ms before, ${Math.round(best)}/ms after a capture (ratio ${(best / before).toFixed(3)}, ${after.length} window(s))`);
      assert.ok(best > 0.8 * before, `after a capture no 150 ms window of 20 reached 0.8x the best before (${Math.round(before)}/ms): ${after.map(Math.round).join(', ')}`);
    } finally {
      await terminateInTime(worker);
    }
  });
});

describe('pending resources (in the thread itself)', () => {
  test('lists a connected socket with its address', async () => {
    const server = createServer(() => undefined).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const resources = collectPendingResources();
      assert.ok(resources.some((r) => r.type === 'socket' && r.description.includes(`127.0.0.1:${port}`)), JSON.stringify(resources));
      assert.ok(resources.some((r) => r.type === 'server' && r.description.includes(String(port))));
    } finally {
      socket.destroy();
      server.close();
    }
  });
});

describe('process snapshots (/proc)', { skip: process.platform !== 'linux' }, () => {
  test('python3 -c "input()" with stdin kept open: reading fd 0, a pipe, with its wait channel', async () => {
    const child = spawn('python3', ['-c', 'input()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const pid = child.pid!;
      await until(() => /^reading fd 0 /.test(snapshotProcesses([pid])[0]?.blockedOn ?? ''), 5000, 'python to block reading its stdin');
      const ms: number[] = [];
      let snap: ProcessSnapshot | undefined;
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        snap = snapshotProcesses([pid])[0];
        ms.push(performance.now() - t0);
      }
      assert.ok(snap);
      assert.equal(snap.state, 'S');
      assert.ok(snap.wchan, 'a wait channel');
      assert.match(snap.command, /python3 -c input\(\)|python3 -c 'input\(\)'/);
      assert.match(snap.blockedOn ?? '', /^reading fd 0 \(.*pipe/);
      assert.match(formatHangReport(report({ processes: [snap], notes: [] })), /reading fd 0/);
      assert.ok(stats('python input() snapshot', ms).p99 < 500);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a python multiprocessing deadlock: parent and 2 pool workers, each with state and wait channel', async () => {
    const child = spawn('python3', [join(fixtures, 'forensics-mp-deadlock.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await withTimeout(once(child.stdout, 'data'), 10_000, 'the deadlock to form');
      const pid = child.pid!;
      // The workers are inside their task; wait until all three sit in a futex wait (bounded).
      const blocked = (): ProcessSnapshot[] | null => {
        const procs = snapshotProcesses(processTree(pid));
        return procs.length === 3 && procs.every((p) => p.state === 'S' && p.syscall === 'futex') ? procs : null;
      };
      await until(blocked, 5000, 'three processes blocked in futex');
      const ms: number[] = [];
      let procs: ProcessSnapshot[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        procs = snapshotProcesses(processTree(pid));
        ms.push(performance.now() - t0);
      }
      assert.equal(procs.length, 3);
      assert.equal(procs[0]!.pid, pid);
      for (const p of procs) {
        assert.equal(p.state, 'S');
        assert.ok(p.wchan, `wait channel of ${p.pid}`);
        assert.match(p.blockedOn ?? '', /futex/);
        assert.match(p.command, /forensics-mp-deadlock\.py/);
      }
      assert.deepEqual(procs.slice(1).map((p) => p.ppid), [pid, pid]);
      const text = formatHangReport(report({ processes: procs, notes: [] }));
      for (const p of procs) assert.match(text, new RegExp(`\\b${p.pid}\\b`));
      assert.ok(stats('python multiprocessing deadlock (3 processes)', ms).p99 < 500);
    } finally {
      for (const p of processTree(child.pid!).reverse()) killQuietly(p);
      await once(child as ChildProcess, 'exit');
    }
  });
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

function report(where: HangReport['where']): HangReport {
  return { kind: 'timeout', capturedAt: Date.now(), elapsedMs: 1000, captureMs: 30, lastHeartbeatAt: null, progress: null, logTail: ['a log line'], where };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
