// Issue 5, end to end: real hangs run by a real worker (SQLite store, executor hosts, attempt processes, programs),
// and the hang reports the engine stored for them — what `vigil inspect` shows.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Worker } from '../src/engine/worker.js';
import type { Attempt, HangReport, Job, Json } from '../src/types.js';
import { openTestVigil, startWorker, type TestVigil } from './helpers/engine.js';
import { CLI } from './helpers/cli.js';

const TASKS = resolve('test/fixtures/hang-tasks.ts');
const MP_SCRIPT = resolve('test/fixtures/forensics-mp-deadlock.py');
const source = readFileSync(TASKS, 'utf8').split('\n');
const lineOf = (marker: string): number => source.findIndex((l) => l.includes(`// ${marker}`)) + 1;
const RUNS = Number(process.env.HANG_RUNS ?? 4);

const captureMs = new Map<string, number[]>();
const figures: string[] = [];

function pick(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface Hung {
  job: Job;
  attempt: Attempt;
  report: HangReport;
}

describe('hang reports through the engine', () => {
  let t: TestVigil;
  let worker: Worker;
  let server: Server;
  const peers: Socket[] = [];

  before(async () => {
    t = await openTestVigil({ tasks: TASKS });
    worker = await startWorker(t.vigil, { concurrency: 4 });
    // A server that accepts and never answers.
    server = createServer((socket) => peers.push(socket));
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  });

  after(async () => {
    for (const peer of peers) peer.destroy();
    await new Promise((done) => server.close(done));
    await worker.stop();
    await t.cleanup();
    for (const [name, ms] of captureMs) {
      const sorted = [...ms].sort((a, b) => a - b);
      figures.unshift(`${name}: captureMs p50 ${pick(sorted, 0.5)} ms, p99 ${pick(sorted, 0.99)} ms, max ${sorted.at(-1)} ms over ${ms.length}`);
    }
    for (const line of figures) console.log(`# ${line}`);
  });

  /**
   * `n` task threads started, their tasks module loaded, and idle in the host when this returns: `n` jobs held at a
   * gate until all of them run. A thread started cold from source (tsx's hooks thread, the tasks module and the
   * library transpiled) took 1.0–1.7 s from the claim to the task's first line with 4 at once on this 2-core machine
   * at load 4, more under load, and the fixtures' 2 s timeout counts from the claim: a capture then caught the thread
   * still starting (seen once the capture answered in ~15 ms; the old one looked 150–300 ms later). The thread hangs
   * are about where a running task hangs, so they start on warm threads (threads killed by an earlier hang are gone).
   */
  async function warmThreads(n: number): Promise<void> {
    const held: Socket[] = [];
    let allIn = (): void => {};
    const arrived = new Promise<void>((resolve) => (allIn = resolve));
    const gate = createServer((socket) => {
      held.push(socket);
      if (held.length === n) allIn();
    });
    await new Promise<void>((ready) => gate.listen(0, '127.0.0.1', ready));
    try {
      const { port } = gate.address() as AddressInfo;
      const jobs = await Promise.all(Array.from({ length: n }, () => t.vigil.submit('hang.warm.thread', { port })));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([arrived, new Promise((_, fail) => (timer = setTimeout(() => fail(new Error(`${held.length} of ${n} warm-up jobs running after 30 s`)), 30_000)))]);
      clearTimeout(timer);
      for (const socket of held) socket.write('go');
      for (const job of jobs) assert.equal((await t.vigil.wait(job.id, { timeout: '20s' })).state, 'succeeded');
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((done) => gate.close(done));
    }
  }

  /** Runs `runs` jobs of a hanging task at once; each must end `timeout` with a stored hang report. */
  async function hang(task: string, input: Json, runs = RUNS): Promise<Hung[]> {
    if (task.endsWith('.thread')) await warmThreads(runs);
    const jobs = await Promise.all(Array.from({ length: runs }, () => t.vigil.submit(task, input)));
    const out: Hung[] = [];
    for (const submitted of jobs) {
      const job = await t.vigil.wait(submitted.id, { timeout: '20s' });
      assert.equal(job.state, 'failed');
      assert.equal(job.error?.kind, 'timeout', JSON.stringify(job.error));
      const [attempt] = await t.vigil.attempts(job.id);
      assert.ok(attempt?.hangReport, `job ${job.id} (${task}) has a hang report`);
      const report = attempt.hangReport;
      captureMs.set(task, [...(captureMs.get(task) ?? []), report.captureMs]);
      out.push({ job, attempt, report });
    }
    return out;
  }

  function assertFrame(report: HangReport, functionName: string, marker: string): void {
    const stack = report.where.stack ?? [];
    const frame = stack.find((f) => f.functionName === functionName);
    assert.ok(frame, `a frame of ${functionName} in ${JSON.stringify(report.where)}`);
    assert.equal(frame.file, TASKS);
    assert.equal(frame.line, lineOf(marker), `the line marked ${marker}`);
  }

  async function noopRate(): Promise<number> {
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await t.vigil.submit('hang.rate.thread', { ms: 150 });
      const done = await t.vigil.wait(job.id, { timeout: '20s' });
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      rates.push(done.result as number);
    }
    // The best of three: what the thread can do, less the noise of other processes on a shared 2-core machine.
    return Math.max(...rates);
  }

  let rateBefore = 0;
  test('no-op throughput of a task thread before any capture: full JIT speed, as in this process', async () => {
    rateBefore = await noopRate();
    const here = Math.max(localNoopRate(150), localNoopRate(150), localNoopRate(150));
    figures.push(`no-op throughput: ${rateBefore.toFixed(0)} calls/ms in a task thread, ${here.toFixed(0)} in the test process`);
    // The same loop, optimised the same way: a thread that runs it 4× slower than this process is not at full
    // speed (left in the interpreter, or a debugger attached before any capture).
    assert.ok(rateBefore > here / 4, `a task thread ran ${rateBefore.toFixed(0)} no-op calls/ms, this process ${here.toFixed(0)}`);
  });

  test('a .ts thread task spinning in spin(): the stack names spin, the .ts file and the loop line', async () => {
    const runs = await hang('hang.spin.thread', null);
    for (const { report, attempt } of runs) {
      assertFrame(report, 'spin', 'SPIN_LINE');
      assert.equal(report.kind, 'timeout');
      assert.ok(report.capturedAt >= attempt.startedAt && report.capturedAt <= attempt.finishedAt!);
      // The engine's clock starts when it claims the job, its timer a moment later: ±10 ms.
      assert.ok(report.elapsedMs >= 1_990 && report.elapsedMs < 2_500, `elapsedMs ${report.elapsedMs}`);
      assert.ok(report.lastHeartbeatAt !== null && report.lastHeartbeatAt >= attempt.startedAt, 'lastHeartbeatAt from ctx.heartbeat()');
      assert.deepEqual(report.progress, { fraction: 0.3, done: 3, total: 10, message: 'step 3 of 10' });
      assert.ok(report.logTail.some((l) => l.endsWith('stdout: about to spin')), JSON.stringify(report.logTail));
      assert.ok(report.logTail.some((l) => l.endsWith('log: spinning now')), JSON.stringify(report.logTail));
      assert.ok(report.captureMs < 1_000, `captureMs ${report.captureMs}`);
    }
  });

  test('no-op throughput of a task thread after captures in its host', async () => {
    const rateAfter = await noopRate();
    const ratio = rateAfter / rateBefore;
    figures.push(`no-op throughput on a task thread: ${rateBefore.toFixed(0)} calls/ms before any capture, ${rateAfter.toFixed(0)} after ${RUNS} captures in the same host (ratio ${ratio.toFixed(2)})`);
    // Timing on a shared 2-core machine: only a collapse (a debugger left attached) fails this.
    assert.ok(ratio > 0.5, `throughput ratio ${ratio}`);
  });

  test('a .ts process task spinning in spin(): the stack names spin, the .ts file and the loop line, plus /proc facts', async () => {
    const runs = await hang('hang.spin.process', null);
    for (const { report } of runs) {
      assertFrame(report, 'spin', 'SPIN_LINE');
      const [main] = report.where.processes ?? [];
      assert.ok(main, 'the attempt process in the report');
      assert.equal(main.state, 'R', 'a busy loop is running');
      assert.ok(report.logTail.some((l) => l.endsWith('stdout: about to spin')), JSON.stringify(report.logTail));
      assert.ok(report.captureMs < 1_000, `captureMs ${report.captureMs}`);
    }
  });

  test('a thread awaiting a reply from a server that never answers: idle, the pending socket listed', async () => {
    const { port } = server.address() as AddressInfo;
    const runs = await hang('hang.socket.thread', { port });
    for (const { report } of runs) {
      assert.deepEqual(report.where.stack, [], JSON.stringify(report.where));
      const sockets = (report.where.pendingResources ?? []).filter((r) => r.type === 'socket');
      assert.ok(
        sockets.some((r) => r.description.includes(`connected to 127.0.0.1:${port}`)),
        `the socket to the server among ${JSON.stringify(report.where.pendingResources)}`,
      );
      assert.ok(report.where.notes.some((n) => n.includes('idle')), JSON.stringify(report.where.notes));
      assert.ok(report.logTail.some((l) => l.endsWith(`connected to 127.0.0.1:${port}`)));
      assert.ok(report.captureMs < 500, `an idle capture took ${report.captureMs} ms`);
    }
  });

  test('a thread awaiting a promise that never settles: idle, empty stack, captured fast', async () => {
    const runs = await hang('hang.never.thread', null);
    for (const { report } of runs) {
      assert.deepEqual(report.where.stack, []);
      assert.ok(report.where.pendingResources, JSON.stringify(report.where));
      assert.ok(!report.where.notes.some((n) => n.includes('did not pause in time')), JSON.stringify(report.where.notes));
      assert.ok(report.captureMs < 500, `an idle capture took ${report.captureMs} ms`);
    }
  });

  test('a thread in Atomics.wait: the stack names the line', async () => {
    const runs = await hang('hang.atomics.thread', null);
    for (const { report } of runs) {
      const frame = (report.where.stack ?? []).find((f) => f.file === TASKS);
      assert.ok(frame, JSON.stringify(report.where));
      assert.equal(frame.line, lineOf('ATOMICS_LINE'));
      assert.ok(report.captureMs < 1_000, `captureMs ${report.captureMs}`);
    }
  });

  test('a thread in fs.readFileSync on a FIFO: OS thread facts, the note that the JS stack could not be taken, killed in time', async () => {
    const fifo = join(t.dir, 'never-written.fifo');
    execFileSync('mkfifo', [fifo]);
    const runs = await hang('hang.fifo.thread', { path: fifo }, 2);
    for (const { report, attempt } of runs) {
      assert.equal(report.where.stack, undefined);
      assert.ok(report.where.notes.some((n) => n.startsWith('the JS stack could not be taken')), JSON.stringify(report.where.notes));
      const threads = report.where.processes?.[0]?.threads ?? [];
      const stuck = threads.find((th) => th.syscall === 'openat' || th.syscall === 'open' || th.syscall === 'read');
      assert.ok(stuck, `a thread blocked opening/reading the FIFO among ${JSON.stringify(threads)}`);
      assert.equal(stuck.state, 'S');
      assert.ok(stuck.wchan, 'its wait channel');
      assert.ok(report.where.notes.some((n) => /looks like OS thread \d+ .*state S, wait channel/.test(n)), JSON.stringify(report.where.notes));
      const tookMs = attempt.finishedAt! - attempt.startedAt;
      assert.ok(tookMs <= 3_000, `the attempt ended ${tookMs} ms after it started`);
    }
  });

  test('a command python3 -c "input()" with stdin open: blocked reading fd 0 with its wait channel', async () => {
    const runs = await hang('hang.stdin.command', null, 2);
    for (const { report } of runs) {
      const python = (report.where.processes ?? []).find((p) => /python3/.test(p.command));
      assert.ok(python, JSON.stringify(report.where));
      assert.equal(python.state, 'S');
      assert.ok(python.wchan, 'a wait channel');
      assert.match(python.blockedOn ?? '', /^reading fd 0 \(.*pipe/);
      assert.ok(report.logTail.some((l) => l.endsWith('stdout: waiting for a line on stdin')), JSON.stringify(report.logTail));
      assert.ok(report.elapsedMs >= 1_990 && report.elapsedMs < 2_500, `elapsedMs ${report.elapsedMs}`);
    }
  });

  test('a python multiprocessing deadlock as a command: parent and 2 pool workers, each with state and wait channel', async () => {
    const runs = await hang('hang.mp.command', { script: MP_SCRIPT }, 2);
    for (const { report } of runs) {
      const procs = (report.where.processes ?? []).filter((p) => p.command.includes('forensics-mp-deadlock.py'));
      assert.equal(procs.length, 3, JSON.stringify(report.where));
      const parent = procs.find((p) => !procs.some((q) => q.pid === p.ppid))!;
      assert.deepEqual(procs.filter((p) => p !== parent).map((p) => p.ppid), [parent.pid, parent.pid]);
      for (const p of procs) {
        assert.equal(p.state, 'S', `state of ${p.pid}`);
        assert.ok(p.wchan, `wait channel of ${p.pid}`);
        assert.match(p.blockedOn ?? '', /futex/, `what ${p.pid} is blocked on`);
      }
    }
  });

  test('vigil inspect <id> prints the report readably, --json returns it', async () => {
    const [job] = await t.vigil.list({ task: 'hang.spin.thread' });
    assert.ok(job);
    const text = await cli(['inspect', job.id, '--store', t.storeUrl]);
    assert.equal(text.code, 0, text.output);
    assert.match(text.output, /Hang report \(timeout\) after (199\d ms|2\.\d\d s), captured at .* in \d+ ms/);
    assert.match(text.output, new RegExp(`at spin \\(${escape(TASKS)}:${lineOf('SPIN_LINE')}:\\d+\\)`));
    assert.match(text.output, /last progress: 3\/10 — step 3 of 10/);
    assert.match(text.output, /\| .* stdout: about to spin/);
    const json = await cli(['inspect', job.id, '--store', t.storeUrl, '--json']);
    assert.equal(json.code, 0, json.output);
    const parsed = JSON.parse(json.output) as { job: Job; attempts: Attempt[] };
    const report = parsed.attempts[0]!.hangReport!;
    for (const key of ['kind', 'capturedAt', 'elapsedMs', 'captureMs', 'lastHeartbeatAt', 'progress', 'logTail', 'where'] as const) {
      assert.ok(key in report, `--json report has ${key}`);
    }
    assert.ok(report.where.stack!.some((f) => f.functionName === 'spin' && f.line === lineOf('SPIN_LINE')));
  });

  test('the worker is still healthy', () => {
    assert.equal(worker.runningCount, 0);
  });
});

/** The loop of the `hang.rate.thread` fixture, run here: calls per ms. */
function localNoopRate(ms: number): number {
  const noop = (x: number): number => x;
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) for (let i = 0; i < 1000; i++) n += noop(1);
  return n / ms;
}

/** `vigil <args>` as a real process (the built CLI, see helpers/cli.ts). */
function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`vigil ${args.join(' ')} did not exit within 20 s:\n${output}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
