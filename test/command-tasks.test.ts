import { until } from './helpers/engine.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CommandExecutor } from '../src/executors/command-executor.js';
import { contextExec, ExecError } from '../src/executors/exec.js';
import { readProcStat } from '../src/executors/proctree.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, CommandSpec, RunningAttempt } from '../src/executors/types.js';
import { NonRetryableError } from '../src/errors.js';
import type { LogStream } from '../src/types.js';

const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const executor = new CommandExecutor();
let seq = 0;
/** Pids a fixture reported: killed after the tests in case a failed test left them (a tracking bug must not leak). */
const reported: number[] = [];

/** The engine's side of the boundary, recorded. */
class RecordingChannel implements AttemptChannel {
  lines: Array<{ stream: LogStream; line: string; ts: number }> = [];
  activityAt: number[] = [];
  started: number[] = [];
  ended: number[] = [];
  private waiters: Array<() => void> = [];
  log(stream: LogStream, line: string, ts: number): void {
    this.lines.push({ stream, line, ts });
    for (const w of this.waiters.splice(0)) w();
  }
  heartbeat(): void {}
  progress(): void {}
  spawn = async () => [];
  all = async () => [];
  processStarted(pid: number): void {
    this.started.push(pid);
  }
  processEnded(pid: number): void {
    this.ended.push(pid);
  }
  activity(): void {
    this.activityAt.push(Date.now());
  }
  text(stream?: LogStream): string {
    return this.lines.filter((l) => !stream || l.stream === stream).map((l) => l.line).join('\n');
  }
  /** Resolves with the first log line matching, or rejects after timeoutMs. */
  waitLine(match: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; log:\n${this.text()}`)), timeoutMs);
      const check = () => {
        const found = this.lines.find((l) => match(l.line));
        if (found) {
          clearTimeout(timer);
          resolve(found.line);
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

function start(command: Partial<CommandSpec> & { argv: string[] }, memoryMb: number | null = null): { attempt: RunningAttempt; channel: RecordingChannel } {
  const channel = new RecordingChannel();
  const key = `cmd-${++seq}`;
  const spec: AttemptSpec = { key, jobId: key, attempt: 1, task: 'cmd', input: null, tasksModule: '', memoryMb, endsAt: Date.now() + 60_000, command: { stdin: 'closed', result: 'exit', ...command } };
  return { attempt: executor.start(spec, channel), channel };
}

function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** `ps` agrees: none of these pids is a live process. */
function psShowsNone(pids: number[]): boolean {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,stat=', '-p', pids.join(',')], { encoding: 'utf8' });
    return out.split('\n').filter((l) => l.trim() && !/\sZ/.test(l)).length === 0;
  } catch {
    return true; // ps exits 1 when no pid matched.
  }
}

function sessionMembers(sid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => readProcStat(Number(e)))
    .filter((st) => st !== null && st.sid === sid && st.state !== 'Z')
    .map((st) => st!.pid);
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The engine's timeout path: abort (SIGTERM to the tree), grace, kill. Returns the end and when it came. */
async function engineStops(attempt: RunningAttempt, graceMs: number): Promise<{ end: AttemptEnd; ms: number }> {
  const t0 = Date.now();
  attempt.abort('timeout');
  const graceTimer = setTimeout(() => void attempt.kill(), graceMs);
  const end = await within(attempt.done, graceMs + 3_000, 'attempt end after abort');
  clearTimeout(graceTimer);
  return { end, ms: Date.now() - t0 };
}

function threw(end: AttemptEnd): Extract<AttemptEnd, { type: 'threw' }>['error'] {
  assert.equal(end.type, 'threw', `expected threw, got ${JSON.stringify(end)}`);
  return (end as Extract<AttemptEnd, { type: 'threw' }>).error;
}

test('stdin closed by default: python3 input() reads end-of-file and exits at once', async () => {
  const t0 = Date.now();
  const { attempt, channel } = start({ argv: ['python3', '-c', 'input()'] });
  const end = await within(attempt.done, 10_000, 'python3 input() with stdin closed');
  assert.ok(Date.now() - t0 < 5_000);
  const error = threw(end);
  assert.match(error.message, /exited with code 1/);
  assert.match(error.message, /EOFError/);
  assert.equal(error.details?.exitCode, 1);
  assert.match(channel.text('stderr'), /EOFError/);
  assert.equal(channel.started.length, 1);
  assert.deepEqual(channel.ended, channel.started);
});

test('stdin open: the program waits; the engine stops it and no process is left', async () => {
  const { attempt, channel } = start({ argv: ['sh', '-c', 'printf "Password: "; python3 -c "input()"'], stdin: 'open' });
  // A prompt without a newline is logged after a quiet second: the hang report's log tail shows what it waits for.
  await until('the prompt logged while sh and python3 wait', 10_000, () => channel.lines.some((l) => l.line === 'Password: ') && attempt.pids().length >= 2);
  const pids = attempt.pids();
  assert.ok(pids.length >= 2, `sh and python3 are still running: ${pids}`);
  const where = await attempt.captureHang(1_000);
  assert.deepEqual(where.processes?.map((p) => p.pid).sort(), [...pids].sort());
  const { end } = await engineStops(attempt, 1_000);
  assert.equal(end.type, 'killed');
  assert.ok(pids.every((pid) => !alive(pid)));
  assert.ok(psShowsNone(pids), 'ps lists none of the tree');
  assert.deepEqual(attempt.pids(), []);
});

test('stdin text is written then closed; result last-line parses the last stdout line', async () => {
  const { attempt } = start({ argv: ['python3', '-c', 'import json,sys; d=sys.stdin.read(); print("log line"); print(json.dumps({"upper": d.upper()}))'], stdin: { text: 'hello' }, result: 'last-line' });
  assert.deepEqual(await attempt.done, { type: 'returned', value: { upper: 'HELLO' } });
});

test('result modes: exit, file ($VIGIL_RESULT_FILE, deleted afterwards), and clear errors', async () => {
  assert.deepEqual(await start({ argv: ['true'] }).attempt.done, { type: 'returned', value: { exitCode: 0 } });
  const file = start({ argv: ['sh', '-c', 'echo "$VIGIL_RESULT_FILE" >&2; printf \'{"frames": 42}\' > "$VIGIL_RESULT_FILE"'], result: 'file' });
  assert.deepEqual(await file.attempt.done, { type: 'returned', value: { frames: 42 } });
  const path = file.channel.text('stderr').trim();
  assert.match(path, /vigil-result-.*result\.json$/);
  assert.equal(existsSync(path), false, 'the result file is deleted');
  const missing = threw(await start({ argv: ['true'], result: 'file' }).attempt.done);
  assert.match(missing.message, /did not write its result file/);
  const notJson = threw(await start({ argv: ['echo', 'done!'], result: 'last-line' }).attempt.done);
  assert.match(notJson.message, /last stdout line is not JSON.*done!/);
});

test('a multiprocessing pool of 2 blocked workers: the script and both workers are gone within grace + 1 s', async (t) => {
  const { attempt, channel } = start({ argv: ['python3', join(FIXTURES, 'cmd-pool.py'), 'stubborn'] });
  const line = await channel.waitLine((l) => l.includes('"workers"'));
  const { main, workers } = JSON.parse(line) as { main: number; workers: number[] };
  reported.push(main, ...workers);
  await channel.waitLine((l) => l.includes('"worker"')); // the pool is busy, blocked for good
  const all = [main, ...workers];
  assert.equal(all.length, 3);
  assert.ok(all.every(alive));
  const grace = 1_000;
  const { end, ms } = await engineStops(attempt, grace);
  assert.equal(end.type, 'killed');
  t.diagnostic(`pool (ignoring SIGTERM) gone ${ms} ms after abort, grace ${grace} ms`);
  assert.ok(ms < grace + 1_000, `ended ${ms} ms after abort`);
  assert.ok(all.every((pid) => !alive(pid)), 'no process of the pool is left');
  assert.ok(psShowsNone(all));
});

test('a grandchild that called setsid() is killed with the tree', async () => {
  const { attempt, channel } = start({ argv: ['python3', join(FIXTURES, 'cmd-setsid.py'), 'child'] });
  const info = JSON.parse(await channel.waitLine((l) => l.includes('"grandchild"'))) as { main: number; child: number; grandchild: number };
  reported.push(info.main, info.child, info.grandchild);
  assert.notEqual(readProcStat(info.grandchild)?.sid, readProcStat(info.main)?.sid, 'the grandchild left the session');
  const { end, ms } = await engineStops(attempt, 1_000);
  assert.equal(end.type, 'killed');
  assert.ok(ms < 2_000);
  assert.ok([info.main, info.child, info.grandchild].every((pid) => !alive(pid)));
});

test('a double-forked setsid() daemon whose parent exited is remembered and killed', async () => {
  // The intermediate child lives 1 s: the executor's own sampler (every 500 ms) links the daemon to the tree in that
  // time. A daemon detached faster than one sample period is the gap documented in docs/command-tasks.md.
  const { attempt, channel } = start({ argv: ['python3', join(FIXTURES, 'cmd-setsid.py'), 'daemon', '1'] });
  const info = JSON.parse(await channel.waitLine((l) => l.includes('"grandchild"'))) as { main: number; child: number; grandchild: number };
  reported.push(info.main, info.child, info.grandchild);
  await waitFor('the intermediate child exits', () => !alive(info.child), 5_000);
  assert.equal(readProcStat(info.grandchild)?.ppid !== info.child, true, 'the daemon was reparented');
  assert.ok(attempt.pids().includes(info.grandchild), 'the tracker still counts the daemon');
  const { end } = await engineStops(attempt, 1_000);
  assert.equal(end.type, 'killed');
  assert.ok(!alive(info.grandchild) && !alive(info.main));
});

test('1 GiB on stdout: completes; the executor process peak RSS stays under 200 MiB; the log is bounded', { timeout: 60_000 }, async (t) => {
  const line = '0123456789'.repeat(10).slice(0, 99);
  const argv = ['sh', '-c', `yes ${line} | head -c 1073741824`];
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, 'cmd-rss-probe.mts'), JSON.stringify(argv)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await within(new Promise((r) => child.once('exit', r)), 50_000, 'the 1 GiB probe');
  assert.equal(code, 0);
  const probe = JSON.parse(out) as { end: AttemptEnd; elapsedMs: number; baselineKb: number; maxRssKb: number; loggedLines: number; loggedChars: number; system: string[] };
  t.diagnostic(`1 GiB in ${probe.elapsedMs} ms; peak RSS ${(probe.maxRssKb / 1024).toFixed(1)} MiB (baseline ${(probe.baselineKb / 1024).toFixed(1)} MiB); logged ${probe.loggedLines} lines, ${probe.loggedChars} chars`);
  assert.deepEqual(probe.end, { type: 'returned', value: { exitCode: 0 } });
  assert.ok(probe.maxRssKb < 200 * 1024, `peak RSS ${probe.maxRssKb} KiB`);
  assert.ok(probe.loggedChars < 4 * 1024 * 1024, 'the log keeps a bounded amount');
  assert.match(probe.system[0] ?? '', /lines \(.*\) of output not logged: over the log budget/);
});

test('silence: a program that prints once then sleeps reports activity once; stalled within ~3 s', async () => {
  const t0 = Date.now();
  const { attempt, channel } = start({ argv: ['python3', join(FIXTURES, 'cmd-print-once.py')] });
  const silenceMs = 2_000;
  // The engine's silence check, on a 100 ms tick: no activity for silenceMs → stalled.
  const stalledAfter = await waitFor('silence', () => Date.now() - (channel.activityAt.at(-1) ?? t0) >= silenceMs, 5_000);
  assert.ok(stalledAfter < 3_500, `stalled detected after ${stalledAfter} ms`);
  // One print (python may hand it to the pipe in more than one write), then nothing.
  const first = channel.activityAt[0]!;
  assert.ok(channel.activityAt.every((t) => t - first < 200), `activity at ${channel.activityAt.map((t) => t - t0)} ms`);
  assert.equal(channel.lines.length, 1);
  assert.match(channel.text('stdout'), /started, now thinking quietly/);
  const pids = attempt.pids();
  const { end } = await engineStops(attempt, 1_000);
  assert.equal(end.type, 'killed');
  assert.ok(pids.every((pid) => !alive(pid)));
});

test('memoryMb 200: a child allocating 1 GiB ends the attempt as oom, tree gone', async () => {
  const { attempt, channel } = start({ argv: ['python3', join(FIXTURES, 'cmd-alloc.py')] }, 200);
  const end = await within(attempt.done, 15_000, 'oom');
  assert.equal(end.type, 'oom', JSON.stringify(end));
  assert.match((end as { message: string }).message, /over memoryMb 200/);
  const info = JSON.parse(await channel.waitLine((l) => l.includes('"child"'))) as { main: number; child: number };
  assert.ok(!alive(info.main) && !alive(info.child));
});

test('a missing program, a non-executable file, a failing program: clear errors', async () => {
  const missing = threw(await start({ argv: ['vigil-no-such-program', '-x'] }).attempt.done);
  assert.equal(missing.retryable, false);
  assert.equal(missing.code, 'VIGIL_EXEC_NOT_FOUND');
  assert.match(missing.message, /program not found: "vigil-no-such-program" is not in PATH/);

  const dir = mkdtempSync(join(tmpdir(), 'vigil-cmd-'));
  try {
    const script = join(dir, 'script.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    chmodSync(script, 0o644);
    const notExec = threw(await start({ argv: [script] }).attempt.done);
    assert.equal(notExec.retryable, false);
    assert.equal(notExec.code, 'VIGIL_EXEC_NOT_EXECUTABLE');
    assert.match(notExec.message, /not executable: .*script\.sh.*chmod \+x/);

    const badShebang = join(dir, 'bad.sh');
    writeFileSync(badShebang, '#!/no/such/interpreter\n');
    chmodSync(badShebang, 0o755);
    const interp = threw(await start({ argv: [badShebang] }).attempt.done);
    assert.match(interp.message, /interpreter named on its #! line does not/);

    const noCwd = threw(await start({ argv: ['true'], cwd: join(dir, 'missing') }).attempt.done);
    assert.match(noCwd.message, /working directory not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const failing = threw(await start({ argv: ['sh', '-c', 'echo working; echo boom >&2; exit 3'] }).attempt.done);
  assert.equal(failing.kind, 'error');
  assert.notEqual(failing.retryable, false);
  assert.match(failing.message, /sh exited with code 3; last lines of stderr:\nboom/);
  assert.equal(failing.details?.exitCode, 3);
  assert.equal(failing.details?.signal, null);

  const signalled = threw(await start({ argv: ['sh', '-c', 'echo dying >&2; kill -9 $$'] }).attempt.done);
  assert.match(signalled.message, /was killed by SIGKILL; last lines of stderr:\ndying/);
  assert.equal(signalled.details?.signal, 'SIGKILL');
});

test('processes a program leaves behind when it exits are killed, with a note in the log', async () => {
  const { attempt, channel } = start({ argv: ['sh', '-c', 'sleep 300 & echo $!'] });
  const end = await attempt.done;
  assert.deepEqual(end, { type: 'returned', value: { exitCode: 0 } });
  const sleeper = Number(channel.text('stdout').trim());
  assert.ok(sleeper > 0);
  await waitFor('the leftover sleep is gone', () => !alive(sleeper), 2_000);
  assert.match(channel.text('system'), /exited leaving 1 process running, now killed: \d+ \((sleep|sh)\)/, "comm is sh until the fork has exec()ed sleep");
});

test('kill() before the program ends: done resolves killed, bounded', async () => {
  const { attempt } = start({ argv: ['sleep', '300'] });
  const pids = await (async () => {
    await waitFor('sleep started', () => attempt.pids().length > 0, 2_000);
    return attempt.pids();
  })();
  await within(attempt.kill(), 2_000, 'kill');
  assert.deepEqual(await attempt.done, { type: 'killed' });
  assert.ok(pids.every((pid) => !alive(pid)));
});

test('contextExec: output, check, timeout, missing program', async () => {
  const lines: string[] = [];
  const started: number[] = [];
  const ended: number[] = [];
  const env = (signal = new AbortController().signal) => ({
    signal,
    endsAt: Date.now() + 30_000,
    log: (stream: 'stdout' | 'stderr', line: string) => lines.push(`${stream}: ${line}`),
    started: (pid: number) => started.push(pid),
    ended: (pid: number) => ended.push(pid),
  });
  const ok = await contextExec(['sh', '-c', 'echo out; echo err >&2'], undefined, env());
  assert.deepEqual(ok, { exitCode: 0, signal: null, stdout: 'out\n', stderr: 'err\n' });
  assert.deepEqual(lines, ['stdout: out', 'stderr: err']);
  assert.deepEqual(ended, started);

  const failed = await contextExec(['sh', '-c', 'echo nope >&2; exit 3'], undefined, env()).catch((e: unknown) => e);
  assert.ok(failed instanceof ExecError);
  assert.equal(failed.exitCode, 3);
  assert.match(failed.message, /exited with code 3; last lines of stderr:\nnope/);
  const unchecked = await contextExec(['sh', '-c', 'exit 3'], { check: false }, env());
  assert.equal(unchecked.exitCode, 3);

  const t0 = Date.now();
  const timedOut = await contextExec(['sh', '-c', 'sleep 300 & sleep 300'], { timeout: '300ms' }, env()).catch((e: unknown) => e);
  assert.ok(timedOut instanceof ExecError && timedOut.timedOut, String(timedOut));
  assert.ok(Date.now() - t0 < 3_000);
  const pid = started.at(-1)!;
  assert.ok(!alive(pid));

  await assert.rejects(contextExec(['vigil-no-such-program'], undefined, env()), (err: unknown) => err instanceof NonRetryableError && /program not found/.test(err.message));
});

test('contextExec from a worker thread: aborting the attempt leaves no orphan', async () => {
  // tsx's hooks do not reach worker threads in Node 20: register them in the thread first (as node-entry.ts does).
  const api = import.meta.resolve('tsx/esm/api');
  const entry = pathToFileURL(join(FIXTURES, 'cmd-exec-worker.mts')).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(code, { eval: true, workerData: { argv: ['sh', '-c', 'sleep 1000 & sleep 1000'] } });
  try {
    const messages: Array<{ type: string; pid?: number; name?: string; message?: string }> = [];
    const next = (type: string) =>
      within(
        new Promise<(typeof messages)[number]>((resolve) => {
          const found = messages.find((m) => m.type === type);
          if (found) return resolve(found);
          const on = (m: (typeof messages)[number]) => m.type === type && (worker.off('message', on), resolve(m));
          worker.on('message', on);
        }),
        10_000,
        `worker message ${type}`,
      );
    worker.on('message', (m: (typeof messages)[number]) => messages.push(m));
    const { pid } = await next('started');
    // The program leads its own session (setsid): its members are the tree that must die with the attempt.
    await waitFor('both sleeps started', () => sessionMembers(pid!).length >= 2, 3_000);
    const tree = sessionMembers(pid!);
    worker.postMessage('abort');
    const error = await next('error');
    assert.equal(error.name, 'ExecError');
    assert.match(error.message ?? '', /was stopped: the attempt was aborted \(the attempt timed out\)/);
    await next('ended');
    assert.ok(tree.every((p) => !alive(p)), 'no orphan left');
  } finally {
    await worker.terminate();
  }
});

test.after(async () => {
  await executor.close();
  for (const pid of reported) {
    if (!alive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
});
