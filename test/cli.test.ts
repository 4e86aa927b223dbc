import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SUPERVISOR_NODE_FLAGS } from '../src/cli/node-flags.js';
import { openStore } from '../src/store/open.js';
import type { Job } from '../src/types.js';
import { CLI } from './helpers/cli.js';

// Every test spawns the real CLI from source, against real SQLite files in a temp dir.
const root = fileURLToPath(new URL('..', import.meta.url));
const tasks = join(root, 'test/fixtures/cli-tasks.ts');
const brokenTasks = join(root, 'test/fixtures/cli-broken-tasks.ts');
const tmp = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
let stores = 0;
const figures: string[] = [];

after(() => {
  rmSync(tmp, { recursive: true, force: true });
  for (const f of figures) console.log(`# ${f}`);
});

function newStore(): string {
  return `sqlite:${join(tmp, `s${++stores}.db`)}`;
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A running CLI process with its output collected as it comes. */
class Cli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly started = Date.now();
  readonly done: Promise<Result>;

  constructor(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}) {
    this.child = spawn(process.execPath, [...CLI, ...args], {
      cwd: root,
      env: { ...process.env, VIGIL_STORE: '', VIGIL_DEBUG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    const limit = options.timeoutMs ?? 20_000;
    this.done = new Promise((resolve) => {
      // Bounded: a hung CLI fails the test instead of hanging it.
      const timer = setTimeout(() => this.child.kill('SIGKILL'), limit);
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: Date.now() - this.started });
      });
    });
  }

  /** Resolves when stderr matches; fails after `ms` with what was printed. */
  async waitForStderr(pattern: RegExp, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pattern.test(this.stderr)) {
      if (this.child.exitCode !== null || Date.now() > end) {
        throw new Error(`stderr never matched ${pattern} (exit ${this.child.exitCode}):\n${this.stderr}`);
      }
      await new Promise<void>((r) => {
        const onData = (): void => {
          clearTimeout(t);
          r();
        };
        const t = setTimeout(() => {
          this.child.stderr!.off('data', onData);
          r();
        }, 50);
        this.child.stderr!.once('data', onData);
      });
    }
  }
}

function vigil(...args: string[]): Promise<Result> {
  return new Cli(args).done;
}

function json<T = Job>(r: Result): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

async function countJobs(url: string): Promise<number> {
  const store = await openStore(url);
  try {
    return Object.values(await store.counts()).reduce((a, b) => a + b, 0);
  } finally {
    await store.close();
  }
}

/** A usage error: exit 2, one `vigil: …` message, no stack trace. */
function assertUsageError(r: Result, message: RegExp): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, /^vigil: /);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  assert.equal(r.stdout, '');
}

const COMMANDS = ['run', 'submit', 'worker', 'status', 'jobs', 'logs', 'inspect', 'cancel', 'retry', 'doctor', 'demo', 'serve'];

// One test at a time: `vigil run` of a hung task must exit within 3 s even on a loaded 2-core machine, and the
// suite should not be the load that breaks other files' timing bounds.
describe('vigil CLI', () => {
  test('run: a hung task with timeout 1s exits within 3 s; inspect shows the hang report', async () => {
    const store = newStore();
    const r = await vigil('run', 'hang', '--tasks', tasks, '--json', '--store', store);
    figures.push(`vigil run hang (timeout 1s, grace 200ms): ${r.ms} ms from spawn to exit`);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.ms < 3_000, `exited after ${r.ms} ms`);
    const job = json(r);
    assert.equal(job.error?.kind, 'timeout');
    assert.match(r.stderr, new RegExp(`job ${job.id}: attempt 1 timeout`), 'the enforcement is logged');

    // Two read-only commands on the same store: run side by side.
    const [text, inspected] = await Promise.all([vigil('inspect', job.id, '--store', store), vigil('inspect', job.id, '--json', '--store', store)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /attempt 1\s+timeout/);
    assert.match(text.stdout, /Hang report \(timeout\)/);
    const data = json<{ job: Job; attempts: Array<{ outcome: string; hangReport: { kind: string } | null }> }>(inspected);
    assert.equal(data.job.id, job.id);
    assert.equal(data.attempts.length, 1);
    assert.equal(data.attempts[0]!.outcome, 'timeout');
    assert.equal(data.attempts[0]!.hangReport?.kind, 'timeout');
  });

  test('the `vigil` command (bin/vigil, through a symlink as npm installs it) runs the built CLI with the supervisor\'s V8 flags', async () => {
    const launcher = readFileSync(join(root, 'bin/vigil'), 'utf8');
    assert.ok(launcher.includes(`exec node ${SUPERVISOR_NODE_FLAGS.join(' ')} "`), `bin/vigil passes ${SUPERVISOR_NODE_FLAGS.join(' ')}`);
    const link = join(tmp, 'bin-link', 'vigil');
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, 'bin/vigil'), link);
    const child = spawn(link, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.equal(out.trim(), (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('--help of the program and of every command exits 0 with a description and an example', async () => {
    const results = await Promise.all([vigil('--help'), ...COMMANDS.map((c) => vigil(c, '--help'))]);
    for (const [i, r] of results.entries()) {
      const name = i === 0 ? 'vigil' : COMMANDS[i - 1]!;
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.match(r.stdout, /Usage: vigil/, name);
      assert.match(r.stdout, /Example/, `${name} --help shows an example`);
    }
    for (const c of COMMANDS) assert.match(results[0]!.stdout, new RegExp(`\\n  ${c}\\b`), `program help lists ${c}`);
    assert.match(results[1]!.stdout, /--store <url>/);
    assert.match(results[1]!.stdout, /--json/);
  });

  test('run: a succeeding task prints the final job as JSON and exits 0; logs shows what it printed', async () => {
    const store = newStore();
    const r = await vigil('run', 'hello', '--tasks', tasks, '--input', '{"name":"Ada"}', '--json', '--store', store);
    assert.equal(r.code, 0, r.stderr);
    const job = json(r);
    assert.equal(job.state, 'succeeded');
    assert.deepEqual(job.result, { greeting: 'hello Ada' });
    for (const key of ['id', 'task', 'state', 'attempts', 'result', 'error', 'parentId']) assert.ok(key in job, key);
    assert.equal(job.error, null);
    figures.push(`vigil run hello: ${r.ms} ms from spawn to exit`);

    const [logs, text] = await Promise.all([vigil('logs', job.id, '--store', store), vigil('status', job.id, '--store', store)]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^\d{4}-\d\d-\d\dT\S+Z stdout hello from the task, Ada$/m);
    assert.match(logs.stdout, /^\S+ log second line$/m);

    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`^job\\s+${job.id}\\s+hello\\s+succeeded`, 'm'));
    assert.match(text.stdout, /result\s+\{"greeting":"hello Ada"\}/);
  });

  test('run: a failing task exits 1 with error.kind', async () => {
    const r = await vigil('run', 'fail', '--tasks', tasks, '--input', '{"why":"no disk"}', '--json', '--store', newStore());
    assert.equal(r.code, 1, r.stderr);
    const job = json(r);
    assert.equal(job.state, 'failed');
    assert.equal(job.error?.kind, 'error');
    assert.equal(job.error?.message, 'no disk');
  });

  test('submit + worker (child process) + status --json; --wait exits by outcome; SIGTERM stops the worker with 0', async () => {
    const store = newStore();
    // The worker starts while the job is submitted (either may come first: the worker picks the job up either way).
    const worker = new Cli(['worker', '--tasks', tasks, '--concurrency', '2', '--store', store], { timeoutMs: 40_000 });
    try {
      const submitted = await vigil('submit', 'hello', '--tasks', tasks, '--input', '{"name":"Bo"}', '--store', store);
      assert.equal(submitted.code, 0, submitted.stderr);
      const id = submitted.stdout.trim();
      assert.match(id, /^\d+$/);

      await worker.waitForStderr(new RegExp(`job ${id}: attempt 1 succeeded`));
      const status = await vigil('status', id, '--json', '--store', store);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(json(status).state, 'succeeded');

      // The worker announced its tasks: submit needs no --tasks now.
      const [ok, bad] = await Promise.all([
        vigil('submit', 'hello', '--input', '{"name":"Cy"}', '--wait', '--json', '--store', store),
        vigil('submit', 'fail', '--input', '{}', '--wait', '--store', store),
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(json(ok).state, 'succeeded');
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stdout, /error\s+error: it broke on purpose/);
      assert.match(worker.stderr, /attempt 1 failed \(error\): it broke on purpose/);

      const [list, failed, table] = await Promise.all([
        vigil('jobs', '--json', '--store', store),
        vigil('jobs', '--state', 'failed', '--json', '--store', store),
        vigil('jobs', '--store', store),
      ]);
      assert.equal(list.code, 0);
      const jobs = json<Job[]>(list);
      assert.equal(jobs.length, 3);
      assert.deepEqual(jobs.map((j) => j.state).sort(), ['failed', 'succeeded', 'succeeded']);
      const failedOnly = json<Job[]>(failed);
      assert.deepEqual(failedOnly.map((j) => j.task), ['fail']);
      assert.match(table.stdout, /^ID\s+TASK\s+STATE\s+ATTEMPTS\s+AGE\s+PARENT\s+TOOK\s+ERROR$/m);
    } finally {
      worker.child.kill('SIGTERM');
    }
    const end = await worker.done;
    assert.equal(end.code, 0, end.stderr);
    assert.match(end.stderr, /SIGTERM: draining/);
  });

  test('logs --follow prints lines as they come and exits with the job outcome', async () => {
    const store = newStore();
    const submitted = await vigil('submit', 'chatty', '--tasks', tasks, '--input', '{"lines":4,"ms":150}', '--store', store);
    const id = submitted.stdout.trim();
    const follow = new Cli(['logs', id, '--follow', '--store', store]);
    const worker = new Cli(['worker', '--tasks', tasks, '--quiet', '--store', store], { timeoutMs: 40_000 });
    try {
      const r = await follow.done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        r.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, '')),
        ['stdout chatty line 1', 'stdout chatty line 2', 'stdout chatty line 3', 'stdout chatty line 4'],
      );
    } finally {
      worker.child.kill('SIGTERM');
    }
    assert.equal((await worker.done).code, 0);
    assert.equal(worker.stderr, '', '--quiet');
  });

  test('cancel of a queued job, then retry of the cancelled job', async () => {
    const store = newStore();
    const submitted = await vigil('submit', 'hello', '--tasks', tasks, '--input', '{"name":"D"}', '--delay', '1h', '--json', '--store', store);
    const queued = json(submitted);
    assert.equal(queued.state, 'queued');
    const cancelled = await vigil('cancel', queued.id, '--json', '--store', store);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(json(cancelled).state, 'cancelled');
    const retried = await vigil('retry', queued.id, '--store', store);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`^job\\s+${queued.id}\\s+hello\\s+queued`, 'm'));
    // Retrying a job that is not failed or cancelled is the caller's mistake.
    assertUsageError(await vigil('retry', queued.id, '--store', store), /only failed or cancelled/);
  });

  test('SIGINT during run cancels the job and exits 130', async () => {
    const store = newStore();
    const run = new Cli(['run', 'sleepy', '--tasks', tasks, '--json', '--store', store]);
    await run.waitForStderr(/attempt 1 started/);
    run.child.kill('SIGINT');
    const r = await run.done;
    figures.push(`vigil run: SIGINT to exit ${r.ms} ms after spawn`);
    assert.equal(r.code, 130, r.stderr);
    assert.equal(json(r).state, 'cancelled');
    const status = json(await vigil('status', json(r).id, '--json', '--store', store));
    assert.equal(status.state, 'cancelled');
  });

  test('SIGTERM drains: a job that finishes within --drain succeeds, one that does not returns to the queue uncharged', async () => {
    const store = newStore();
    const gateFile = join(tmp, `gate-${Date.now()}`);
    const [quick, stuck] = (
      await Promise.all([
        vigil('submit', 'gate', '--tasks', tasks, '--input', JSON.stringify({ path: gateFile }), '--store', store),
        vigil('submit', 'sleepy', '--tasks', tasks, '--store', store),
      ])
    ).map((r) => r.stdout.trim()) as [string, string];
    // The drain only has to outlast the gate job, which ends within ~25 ms of the gate file's creation.
    const worker = new Cli(['worker', '--tasks', tasks, '--concurrency', '2', '--drain', '2s', '--store', store]);
    await worker.waitForStderr(new RegExp(`job ${quick} gate: attempt 1 started`));
    await worker.waitForStderr(new RegExp(`job ${stuck} sleepy: attempt 1 started`));
    worker.child.kill('SIGTERM');
    await worker.waitForStderr(/SIGTERM: draining/);
    // The gate job may end now, during the drain; sleepy never does and is returned to the queue when it is over.
    writeFileSync(gateFile, '');
    const r = await worker.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`job ${quick}: attempt 1 succeeded`));
    const [done, back] = await Promise.all([vigil('status', quick, '--json', '--store', store), vigil('status', stuck, '--json', '--store', store)]);
    assert.equal(json(done).state, 'succeeded');
    assert.equal(json(back).state, 'queued');
    assert.equal(json(back).chargedAttempts, 0, 'a drained attempt is not charged');
  });

  test('a second signal forces the worker: exit 130, the running job returns to the queue', async () => {
    const store = newStore();
    const worker = new Cli(['worker', '--tasks', tasks, '--drain', '30s', '--store', store]);
    const id = (await vigil('submit', 'sleepy', '--tasks', tasks, '--store', store)).stdout.trim();
    await worker.waitForStderr(new RegExp(`job ${id} sleepy: attempt 1 started`));
    worker.child.kill('SIGTERM');
    await worker.waitForStderr(/SIGTERM: draining/);
    worker.child.kill('SIGTERM');
    const r = await worker.done;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.ms < 15_000, `forced stop took ${r.ms} ms`);
    const job = json(await vigil('status', id, '--json', '--store', store));
    assert.equal(job.state, 'queued');
    assert.equal(job.chargedAttempts, 0, 'a forced shutdown does not charge the attempt');
  });

  test('bad input exits 2 with a clear message and leaves the store unchanged', async () => {
    const store = newStore();
    const seeded = await vigil('submit', 'hello', '--tasks', tasks, '--input', '{"name":"E"}', '--store', store);
    assert.equal(seeded.code, 0, seeded.stderr);
    const before = await countJobs(store);
    const inputFile = join(tmp, 'broken.json');
    writeFileSync(inputFile, '{\n  "name": "x",\n  "n": 01\n}\n');

    const [unknown, invalid, invalidFile, broken, unannounced, status, badState] = await Promise.all([
      vigil('submit', 'nope', '--tasks', tasks, '--input', '{}', '--store', store),
      vigil('submit', 'hello', '--tasks', tasks, '--input', '{"name": }', '--store', store),
      vigil('run', 'hello', '--tasks', tasks, '--input', `@${inputFile}`, '--store', store),
      vigil('submit', 'hello', '--tasks', brokenTasks, '--input', '{}', '--store', store),
      vigil('submit', 'hello', '--input', '{}', '--store', store),
      vigil('status', '424242', '--store', store),
      vigil('jobs', '--state', 'done', '--store', store),
    ]);
    assertUsageError(unknown, /unknown task "nope".*known tasks: .*hello/);
    assertUsageError(invalid, /--input is not valid JSON[^]*line 1, column 10[^]*\{"name": \}\n\s+\^/);
    assertUsageError(invalidFile, /broken\.json is not valid JSON[^]*line 3, column 9/);
    assertUsageError(broken, /cli-broken-tasks\.ts failed to load: cli-broken-tasks: this module fails at import on purpose/);
    assertUsageError(unannounced, /unknown task "hello": no tasks module was given/);
    assertUsageError(status, /job 424242 does not exist/);
    assertUsageError(badState, /--state.*must be one of queued, running/);
    assert.equal(await countJobs(store), before, 'nothing was enqueued');

    const [missingDir, mysql, viaEnv, zeroConcurrency, badDelay, unknownCommand, debug] = await Promise.all([
      vigil('jobs', '--store', 'sqlite:/nonexistent-dir/x.db'),
      vigil('jobs', '--store', 'mysql://x'),
      new Cli(['jobs'], { env: { VIGIL_STORE: 'sqlite:/nonexistent-dir/y.db' } }).done,
      vigil('worker', '--concurrency', '0', '--tasks', tasks, '--store', store),
      vigil('submit', 'hello', '--tasks', tasks, '--delay', 'soon', '--store', store),
      vigil('frobnicate'),
      // VIGIL_DEBUG=1 shows where a usage error came from.
      new Cli(['status', '424242', '--store', store], { env: { VIGIL_DEBUG: '1' } }).done,
    ]);
    assertUsageError(missingDir, /\/nonexistent-dir/);
    assertUsageError(mysql, /unsupported store URL/);
    assertUsageError(viaEnv, /nonexistent-dir/);
    assertUsageError(zeroConcurrency, /--concurrency.*must be an integer/);
    assertUsageError(badDelay, /--delay.*duration/);
    assertUsageError(unknownCommand, /unknown command 'frobnicate'/);
    assert.equal(await countJobs(store), before, 'still nothing enqueued');

    assert.equal(debug.code, 2);
    assert.match(debug.stderr, /\n\s+at .+:\d+:\d+/);
  });

  test('doctor: exit 0 on a healthy store with every check listed; exit 1 when the store will not open', async () => {
    const store = newStore();
    await vigil('run', 'hello', '--tasks', tasks, '--input', '{"name":"F"}', '--quiet', '--store', store);
    const [ok, text, bad] = await Promise.all([
      vigil('doctor', '--json', '--store', store),
      vigil('doctor', '--store', store),
      vigil('doctor', '--store', 'sqlite:/nonexistent-dir/z.db'),
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const report = json<{ ok: boolean; checks: Array<{ id: string; status: string }>; workers: unknown[]; queues: unknown[] }>(ok);
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => c.id), [
      'node', 'store', 'schema', 'workers', 'expired-leases', 'unserved-tasks', 'past-deadline', 'settled-parents', 'queues', 'hangs', 'supervisor-freezes', 'event-loop', 'tsx',
    ]);
    assert.deepEqual(report.workers, [], 'the one-shot run unregistered its worker');
    assert.deepEqual(report.queues, [], 'the job ended');
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^healthy/m);
    // A diagnostic creates nothing: a store that does not exist is a usage error (issue 16), not an empty store.
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /there is no store at \/nonexistent-dir\/z\.db/);
  });

  test('run shows a progress bar from ctx.progress when stdout is a terminal', { skip: !existsSync('/usr/bin/script') && 'needs script(1) for a pseudo-terminal' }, async () => {
    const store = newStore();
    const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, ...CLI, 'run', 'steps', '--tasks', tasks, '--input', '{"n":3,"ms":250}', '--store', store].map(quote).join(' ');
    // script(1) gives the CLI a pseudo-terminal for stdout and stderr; -e passes its exit code through.
    const child = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code] = (await once(child, 'close')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, out);
    assert.match(out, /\d+% \| running [12]\/3 step [12]/, 'the bar shows the task\'s progress');
    assert.match(out, /job\s+\d+\s+steps\s+succeeded/);
    assert.match(out, /progress\s+3\/3 — step 3/);
  });
});
