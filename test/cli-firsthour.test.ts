import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, exited, runCli, startCli } from './helpers/cli.js';
import { until } from './helpers/engine.js';

const TASKS = resolve('test/fixtures/firsthour-tasks.ts');
let dir: string;
let store: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-firsthour-'));
  store = `sqlite:${join(dir, 'vigil.db')}`;
});
after(() => rmSync(dir, { recursive: true, force: true }));

function idOf(output: string): string {
  const m = /^job\s+(\d+)/m.exec(output) ?? /^(\d+)$/m.exec(output);
  assert.ok(m, `no job id in:\n${output}`);
  return m[1]!;
}

describe('no silent waits', { concurrency: 1 }, () => {
  test('submit --wait with no worker warns within 2 s, and --wait-timeout ends the wait (exit 1)', async () => {
    const started = Date.now();
    const child = startCli(['submit', 'fh.slow', '--tasks', TASKS, '--input', '{"ms":1}', '--wait', '--wait-timeout', '3s', '--store', store]);
    await until('the no-worker warning', 10_000, () => /no worker is running on this store/.test(child.output()));
    const warnedMs = Date.now() - started;
    assert.ok(warnedMs <= 2_000, `the warning took ${warnedMs} ms (bound 2000 ms)`);
    assert.match(child.output(), /job \d+ is queued and will not start: no worker is running on this store: jobs of task "fh\.slow" wait until one starts/);
    const code = await exited(child, 15_000);
    assert.equal(code, 1, child.output());
    assert.match(child.output(), /did not finish within 3s \(it is queued/);
  });

  test('status of a queued job says why it will not start', async () => {
    const sub = await runCli(['submit', 'fh.slow', '--tasks', TASKS, '--input', '{"ms":1}', '--store', store]);
    assert.equal(sub.code, 0, sub.output);
    const status = await runCli(['status', idOf(sub.output), '--store', store]);
    assert.match(status.output, /^waiting\s+no worker is running on this store/m);
  });
});

describe('read-only commands create nothing', { concurrency: 1 }, () => {
  test('jobs/status/inspect/logs/doctor on a missing SQLite path: exit 2, a clear message, no file', async () => {
    const typo = join(dir, 'typo.db');
    // Side by side: none of them may create the file, so none can see another's.
    const commands = [['jobs'], ['status', '1'], ['inspect', '1'], ['logs', '1'], ['doctor']];
    const results = await Promise.all(commands.map((args) => runCli([...args, '--store', typo])));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 2, `${commands[i]![0]}: ${r.output}`);
      assert.match(r.output, /there is no store at .*typo\.db: this command only reads, so it creates nothing/);
    }
    assert.equal(existsSync(typo), false, `one of ${commands.map((c) => c[0]).join(', ')} created ${typo}`);
  });

  test('jobs on a PostgreSQL schema that does not exist: exit 2, schema not created', { skip: !process.env.VIGIL_TEST_PG_URL }, async () => {
    const schema = `fh_typo_${process.pid}`;
    const base = process.env.VIGIL_TEST_PG_URL!;
    const url = `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
    const r = await runCli(['jobs', '--store', url]);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, new RegExp(`there is no Vigil store in .*schema=${schema}`));
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]);
      assert.equal(rows.length, 0, 'the schema was created');
    } finally {
      await client.end();
    }
  });
});

describe('logs a user can follow', { concurrency: 1 }, () => {
  test('vigil run streams the output as it happens; --quiet does not', async () => {
    const child = startCli(['run', 'fh.slow', '--tasks', TASKS, '--input', '{"ms":2500}', '--store', store]);
    await until('the first line, streamed', 15_000, () => /line 1 of fh\.slow/.test(child.output()));
    assert.equal(child.exitCode, null, 'the first line must show while the job still runs');
    assert.doesNotMatch(child.output(), /line 2 of fh\.slow/);
    assert.equal(await exited(child, 20_000), 0, child.output());
    assert.match(child.output(), /--- job \d+, attempt 1 ---\nline 1 of fh\.slow[\s\S]*line 2 of fh\.slow/);
    const quiet = await runCli(['run', 'fh.slow', '--tasks', TASKS, '--input', '{"ms":1}', '--quiet', '--store', store]);
    assert.equal(quiet.code, 0, quiet.output);
    assert.doesNotMatch(quiet.output, /line 1 of fh\.slow/);
  });

  test('vigil logs marks attempt boundaries', async () => {
    const run = await runCli(['run', 'fh.flaky', '--tasks', TASKS, '--store', store]);
    assert.equal(run.code, 0, run.output);
    const id = idOf(run.output);
    const [logs, jobs] = await Promise.all([runCli(['logs', id, '--store', store]), runCli(['jobs', '--task', 'fh.flaky', '--store', store])]);
    assert.equal(logs.code, 0, logs.output);
    assert.match(logs.output, new RegExp(`^--- job ${id}, attempt 1 ---\\n.* stdout trying\\n--- job ${id}, attempt 2 ---\\n.* stdout trying$`, 'm'));
    assert.match(jobs.output, new RegExp(`^${id}\\s+fh\\.flaky\\s+succeeded\\s+2\\s+.* ago\\s+-\\s+[\\d.]+(ms|s)\\s+-$`, 'm'), 'run time with its unit, no error');
  });

  test('vigil logs N | head -1 and vigil jobs --help | head -3 exit 0 without a stack trace', async () => {
    const run = await runCli(['run', 'fh.chatty', '--tasks', TASKS, '--quiet', '--store', store]);
    assert.equal(run.code, 0, run.output);
    const cli = [process.execPath, ...CLI].map((a) => `'${a}'`).join(' ');
    for (const cmd of [`${cli} logs ${idOf(run.output)} --store '${store}' | head -1`, `${cli} jobs --help | head -3`]) {
      const r = spawnSync('bash', ['-c', `set -o pipefail; ${cmd}`], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /EPIPE|at .*\.js:\d+/);
    }
  });
});

describe('a live look inside a running job', { concurrency: 1 }, () => {
  test('status and inspect show attempt age, time left, last output line and its age', async () => {
    const worker = startCli(['worker', '--tasks', TASKS, '--store', store, '--concurrency', '1']);
    let id: string | null = null;
    try {
      const sub = await runCli(['submit', 'fh.stuck', '--tasks', TASKS, '--store', store]);
      id = idOf(sub.output);
      const status = await until('a live status', 20_000, async () => {
        const r = await runCli(['status', id, '--store', store]);
        return /^output .*waiting for lock/m.test(r.output) ? r.output : null;
      });
      assert.match(status, /^now\s+attempt 1 running for [\d.]+(ms|s); timeout 1h, [\d.]+m left$/m);
      assert.match(status, /^output\s+[\d.]+(ms|s) ago \(stdout\): waiting for lock\.\.\.$/m);
      const inspect = await runCli(['inspect', id, '--store', store, '--json']);
      const live = (JSON.parse(inspect.output) as { live: { attempt: { timeoutMs: number; timeLeftMs: number }; lastOutput: { line: string } } }).live;
      assert.equal(live.attempt.timeoutMs, 3_600_000);
      assert.ok(live.attempt.timeLeftMs > 3_500_000 && live.attempt.timeLeftMs <= 3_600_000);
      assert.equal(live.lastOutput.line, 'waiting for lock...');
    } finally {
      // Cancelled first: a drain would otherwise wait the full 30 s for the stuck attempt.
      if (id) await runCli(['cancel', id, '--store', store]);
      worker.kill('SIGTERM');
      await exited(worker, 20_000);
    }
  });
});

describe('recovery is logged by the worker that recovers', { concurrency: 1 }, () => {
  test('a SIGKILLed worker\'s job: the next worker says it recovered it, from whom, and what became of it', async () => {
    const own = `sqlite:${join(dir, 'recover.db')}`;
    const a = startCli(['worker', '--tasks', TASKS, '--store', own, '--lease', '1s', '--concurrency', '1']);
    let b: ReturnType<typeof startCli> | null = null;
    try {
      const id = idOf((await runCli(['submit', 'fh.stuck', '--tasks', TASKS, '--store', own])).output);
      await until('worker A to run the job', 20_000, () => new RegExp(`job ${id} fh\\.stuck: attempt 1 started`).test(a.output()));
      a.kill('SIGKILL');
      await exited(a, 10_000);
      b = startCli(['worker', '--tasks', TASKS, '--store', own, '--lease', '1s', '--concurrency', '1']);
      const pattern = new RegExp(`job ${id} fh\\.stuck: recovered from a dead worker \\(worker \\S+:${a.pid}:\\S+ stopped renewing its lease.*\\); now failed`);
      await until('worker B to log the recovery', 20_000, () => pattern.test(b!.output())).catch((err: Error) => {
        throw new Error(`${err.message}\nworker A:\n${a.output()}\nworker B:\n${b!.output()}`);
      });
    } finally {
      if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
      if (b) {
        b.kill('SIGTERM');
        await exited(b, 20_000);
      }
    }
  });
});

describe('inspect --now', { concurrency: 1 }, () => {
  test('shows the running program tree of a command task without stopping it', async () => {
    const worker = startCli(['worker', '--tasks', TASKS, '--store', store, '--concurrency', '1']);
    let id: string | null = null;
    try {
      const sub = await runCli(['submit', 'fh.decode', '--tasks', TASKS, '--store', store]);
      id = idOf(sub.output);
      const now = await until('a --now snapshot with the program', 20_000, async () => {
        const r = await runCli(['inspect', id!, '--now', '--store', store]);
        return /^\s+\d+\s+\d+\s+S\s+.*sleep 60$/m.test(r.output) ? r.output : null;
      });
      assert.match(now, /^Right now: attempt 1, running for [\d.]+(ms|s) \(taken in \d+ms, nothing stopped\)$/m);
      assert.match(now, /sleeping \(clock_nanosleep\)|clock_nanosleep|nanosleep/);
      const json = JSON.parse((await runCli(['inspect', id, '--now', '--json', '--store', store])).output) as { now: { where: { processes: Array<{ command: string }> } } };
      assert.ok(json.now.where.processes.some((p) => p.command.includes('sleep 60')));
      const after = await runCli(['status', id, '--json', '--store', store]);
      assert.equal((JSON.parse(after.output) as { state: string }).state, 'running', 'the attempt keeps running');
      const attempts = JSON.parse((await runCli(['inspect', id, '--json', '--store', store])).output) as { attempts: Array<{ hangReport: unknown; snapshot: unknown }> };
      assert.equal(attempts.attempts[0]!.hangReport, null, 'no hang report: nothing ended');
      assert.ok(attempts.attempts[0]!.snapshot, 'the snapshot is stored on the attempt');
    } finally {
      if (id) await runCli(['cancel', id, '--store', store]);
      worker.kill('SIGTERM');
      await exited(worker, 20_000);
    }
  });

  test('says why when it cannot look (not running): exit 2', async () => {
    const sub = await runCli(['submit', 'fh.slow', '--tasks', TASKS, '--input', '{"ms":1}', '--store', store]);
    const r = await runCli(['inspect', idOf(sub.output), '--now', '--store', store]);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /^vigil: job \d+ is queued: only a running job has an attempt to look inside/m);
  });
});

describe('truthful messages', { concurrency: 1 }, () => {
  test('a tasks module that throws at import names its file and line; compound durations are accepted', async () => {
    // Three independent commands: side by side.
    const [r, sub, bad] = await Promise.all([
      runCli(['run', 'a', '--tasks', 'test/fixtures/firsthour-throws.ts', '--store', store]),
      runCli(['submit', 'fh.slow', '--tasks', TASKS, '--input', '{"ms":1}', '--delay', '1h30m', '--json', '--store', store]),
      runCli(['submit', 'fh.slow', '--delay', '30m1h', '--store', store]),
    ]);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /failed to load: Unexpected end of JSON input \(thrown at .*firsthour-throws\.ts:4:\d+\)/);
    assert.doesNotMatch(r.output, /nothing was submitted/);
    assert.equal(sub.code, 0, sub.output);
    const job = JSON.parse(sub.output) as { runAt: number; createdAt: number };
    assert.equal(job.runAt - job.createdAt, 90 * 60_000);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /compound forms like "1h30m"/);
  });
});

describe('a TypeScript tasks module in a CommonJS project', () => {
  test('no "type": "module": the .ts module, its relative import and `vigil` load in a thread and in a process', async () => {
    // Regression: Node 20.19+ with tsx failed with ERR_REQUIRE_CYCLE_MODULE ("Cannot require() ES Module tasks.ts in
    // a cycle") for any .ts tasks module of a package that is not "type": "module" — most existing projects.
    const project = mkdtempSync(join(tmpdir(), 'vigil-cjs-project-'));
    try {
      mkdirSync(join(project, 'node_modules'));
      symlinkSync(resolve('.'), join(project, 'node_modules', 'vigil'), 'dir');
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cjs-project', version: '1.0.0' }));
      writeFileSync(join(project, 'helper.ts'), 'export const twice = (n: number): number => n * 2;\n');
      writeFileSync(
        join(project, 'tasks.ts'),
        [
          "import { defineTask } from 'vigil';",
          "import { twice } from './helper';",
          "export const cjsThread = defineTask({ name: 'cjs.thread', run: async (input: { n: number }) => twice(input.n) });",
          "export const cjsProcess = defineTask({ name: 'cjs.process', isolation: 'process', run: async (input: { n: number }) => twice(input.n) + 1 });",
          '',
        ].join('\n'),
      );
      const cjsStore = `sqlite:${join(project, 'vigil.db')}`;
      for (const [task, expected] of [['cjs.thread', 42], ['cjs.process', 43]] as const) {
        const { code, output } = await runCli(['run', task, '--tasks', join(project, 'tasks.ts'), '--store', cjsStore, '--input', '{"n":21}', '--json'], 30_000);
        assert.equal(code, 0, output);
        assert.equal(JSON.parse(output.slice(output.indexOf('{'), output.lastIndexOf('}') + 1)).result, expected, output);
      }
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
