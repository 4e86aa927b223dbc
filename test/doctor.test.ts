// `vigil doctor` against conditions produced for real: a SIGKILLed worker, a passed deadline, a task nobody serves,
// a parent whose children all ended. Exit 1 exactly when a human is needed; exit 0 on an empty store and a healthy
// system.
import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { Vigil } from '../src/index.js';
import { openStore } from '../src/store/open.js';
import { until } from './helpers/engine.js';
import { CliProcess, OPS_TASKS, doctor, failing, root, tempDir } from './helpers/ops.js';

const CLI_TASKS = resolve(root, 'test/fixtures/cli-tasks.ts');
const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));
function fresh(): string {
  const t = tempDir();
  dirs.push(t);
  return t.store;
}

describe('vigil doctor', () => {
  test('an empty store is healthy: exit 0, every check ok', async () => {
    // Created, with nothing in it (doctor only reads: a store that does not exist at all is a usage error, exit 2).
    const store = fresh();
    await (await Vigil.open({ store })).close();
    const { result, report } = await doctor(store);
    assert.equal(result.code, 0, result.stdout);
    assert.equal(report.version, 1);
    assert.equal(report.ok, true);
    assert.deepEqual(failing(report), []);
    assert.equal(report.store.reachable, true);
    assert.equal(report.store.schemaVersion, report.store.expectedSchemaVersion);
  });

  test('a healthy system with a live worker and finished jobs: exit 0', async () => {
    const store = fresh();
    const vigil = await Vigil.open({ store, tasks: OPS_TASKS });
    try {
      const worker = await vigil.startWorker({ concurrency: 2, pollMs: 100, leaseMs: 3_000 });
      const jobs = await Promise.all([1, 2, 3].map((n) => vigil.submit('quick', { n })));
      for (const j of jobs) assert.equal((await vigil.wait(j.id, { timeout: '20s' })).state, 'succeeded');
      const { result, report } = await doctor(store);
      assert.equal(result.code, 0, result.stdout);
      assert.deepEqual(report.workers.map((w) => [w.workerId, w.state]), [[worker.workerId, 'live']]);
      assert.ok(report.workers[0]!.tasks.includes('quick'));
    } finally {
      await vigil.close();
    }
  });

  test('a SIGKILLed worker with a running job is lost, its lease has nobody to recover it: exit 1; a new worker makes it healthy', async () => {
    const store = fresh();
    const worker = new CliProcess(['worker', '--tasks', OPS_TASKS, '--store', store, '--lease', '2s', '--concurrency', '1'], { timeoutMs: 60_000 });
    const submitter = await Vigil.open({ store, tasks: OPS_TASKS });
    try {
      await worker.waitForStderr(/worker \S+ started/);
      const job = await submitter.submit('nap', { ms: 500 });
      const long = await submitter.submit('nap', { ms: 60_000 });
      await until('the long job running', 20_000, async () => (await submitter.get(long.id)).state === 'running');
      assert.equal((await submitter.wait(job.id, { timeout: '20s' })).state, 'succeeded');
      worker.child.kill('SIGKILL');
      await worker.done;

      // Lost = silent past its lease (2 s) plus a margin (1 s); poll until doctor sees it, bounded.
      const { result, report } = await until('doctor to see the worker lost', 20_000, async () => {
        const d = await doctor(store);
        return d.report.workers[0]?.state === 'lost' && d.report.expiredLeases.length > 0 ? d : null;
      });
      assert.equal(result.code, 1, result.stdout);
      assert.equal(report.ok, false);
      const ids = failing(report);
      assert.ok(ids.includes('workers'), `workers fails: ${ids}`);
      assert.ok(ids.includes('expired-leases'), `expired-leases fails: ${ids}`);
      const leases = report.checks.find((c) => c.id === 'expired-leases')!;
      assert.match(leases.summary, /no live worker to recover them/);
      assert.match(leases.action!, /start a worker/);
      assert.deepEqual(report.expiredLeases.map((j) => j.id), [long.id]);
      const workers = report.checks.find((c) => c.id === 'workers')!;
      assert.match(workers.summary, /0 live, 1 lost/);
      assert.match(workers.action!, /nap/);
      assert.ok(report.workers[0]!.lastSeenMsAgo > report.workers[0]!.lostAfterMs);

      const text = await new CliProcess(['doctor', '--store', store]).done;
      assert.equal(text.code, 1);
      assert.match(text.stdout, /FAIL\s+workers\s+0 live, 1 lost/);
      assert.match(text.stdout, /LOST\s+\S+.*last seen .* ago/);
      assert.match(text.stdout, /→ start a worker/);
      assert.doesNotMatch(text.stdout, /^healthy/m);

      // A live worker serving the same tasks recovers the lease: nothing needs a human any more.
      const rescuer = await submitter.startWorker({ concurrency: 1, pollMs: 100, leaseMs: 3_000 });
      await until('the lease recovered', 20_000, async () => (await submitter.get(long.id)).leaseOwner === rescuer.workerId);
      const healed = await doctor(store);
      assert.equal(healed.result.code, 0, healed.result.stdout);
      assert.equal(healed.report.checks.find((c) => c.id === 'workers')!.status, 'warn', 'a lost worker whose tasks are served is a warning');
      const forgotten = await doctor(store, '--forget-lost');
      assert.deepEqual(forgotten.report.workers.map((w) => w.state), ['live']);
      await submitter.cancel(long.id);
    } finally {
      worker.child.kill('SIGKILL');
      await submitter.close();
    }
  });

  test('queued jobs of a task no live worker serves: exit 1 naming the task', async () => {
    const store = fresh();
    const other = await Vigil.open({ store, tasks: CLI_TASKS });
    const submitter = await Vigil.open({ store, tasks: OPS_TASKS });
    try {
      await other.startWorker({ concurrency: 1, pollMs: 100, leaseMs: 3_000 });
      await submitter.submit('quick', { n: 1 });
      const { result, report } = await doctor(store);
      assert.equal(result.code, 1, result.stdout);
      assert.deepEqual(failing(report), ['unserved-tasks']);
      const check = report.checks.find((c) => c.id === 'unserved-tasks')!;
      assert.match(check.summary, /1 queued job of 1 task no live worker serves/);
      assert.match(check.action!, /defines quick/);
      assert.equal(report.queues.find((q) => q.task === 'quick')!.liveWorkers, 0);
    } finally {
      await other.close();
      await submitter.close();
    }
  });

  test('a job past its deadline that nobody ended: exit 1', async () => {
    const store = fresh();
    const submitter = await Vigil.open({ store, tasks: OPS_TASKS });
    try {
      const job = await submitter.submit('late', null);
      await until('the deadline (1 s) to pass', 10_000, async () => {
        const s = await openStore(store);
        try {
          return (await s.opsSnapshot({ sinceMs: 0, limit: 10 })).pastDeadline.length > 0;
        } finally {
          await s.close();
        }
      });
      // Both read-only: side by side.
      const [{ result, report }, { report: lenient }] = await Promise.all([doctor(store, '--grace', '0ms'), doctor(store, '--grace', '1h')]);
      assert.equal(result.code, 1, result.stdout);
      assert.ok(failing(report).includes('past-deadline'));
      assert.deepEqual(report.pastDeadline.map((j) => [j.id, j.state]), [[job.id, 'queued']]);
      // Within the grace it is not yet a finding (claim() fails late jobs by itself when a worker serves the task).
      assert.ok(!failing(lenient).includes('past-deadline'));
    } finally {
      await submitter.close();
    }
  });

  test('a running parent whose children all ended and that shows no sign of life: exit 1', async () => {
    const store = fresh();
    const vigil = await Vigil.open({ store, tasks: OPS_TASKS });
    try {
      await vigil.startWorker({ concurrency: 2, pollMs: 100, leaseMs: 3_000 });
      const p = await vigil.submit('parent', null);
      await until('the child to succeed', 20_000, async () => {
        const kids = await vigil.store.children(p.id);
        return kids.length === 1 && kids[0]!.state === 'succeeded';
      });
      const { result, report } = await until('the grace to pass', 10_000, async () => {
        const d = await doctor(store, '--grace', '500ms');
        return d.report.settledParents.length > 0 ? d : null;
      });
      assert.equal(result.code, 1, result.stdout);
      assert.deepEqual(failing(report), ['settled-parents']);
      assert.deepEqual(report.settledParents.map((x) => [x.id, x.children]), [[p.id, 1]]);
      assert.match(report.checks.find((c) => c.id === 'settled-parents')!.action!, /vigil inspect <id> --now/);
      await vigil.cancel(p.id);
    } finally {
      await vigil.close();
    }
  });

  test('recent hangs are reported by task and kind, as a warning (Vigil handled them): exit 0', async () => {
    const store = fresh();
    const vigil = await Vigil.open({ store, tasks: OPS_TASKS });
    try {
      await vigil.startWorker({ concurrency: 2, pollMs: 100, leaseMs: 3_000 });
      const j = await vigil.submit('stuck', null);
      assert.equal((await vigil.wait(j.id, { timeout: '20s' })).error?.kind, 'timeout');
      const { result, report } = await doctor(store);
      assert.equal(result.code, 0, result.stdout);
      assert.deepEqual(report.hangs.map((h) => [h.task, h.kind, h.count]), [['stuck', 'timeout', 1]]);
      assert.equal(report.checks.find((c) => c.id === 'hangs')!.status, 'warn');
    } finally {
      await vigil.close();
    }
  });

  test('an unreachable store: exit 1 with what to do', async () => {
    // Nothing listens on port 1: the database is down, which doctor reports as a finding (not a usage error).
    const { result, report } = await doctor('postgres://postgres@127.0.0.1:1/test');
    assert.equal(result.code, 1);
    assert.equal(report.store.reachable, false);
    assert.match(report.checks.find((c) => c.id === 'store')!.action!, /reachable/);
  });

  test('PostgreSQL: the same snapshot and verdicts', { skip: !process.env.VIGIL_TEST_PG_URL && 'set VIGIL_TEST_PG_URL' }, async () => {
    const url = `${process.env.VIGIL_TEST_PG_URL}${process.env.VIGIL_TEST_PG_URL!.includes('?') ? '&' : '?'}schema=ops_doctor_${process.pid}`;
    await (await Vigil.open({ store: url })).close();
    const empty = await doctor(url);
    assert.equal(empty.result.code, 0, empty.result.stdout);
    const submitter = await Vigil.open({ store: url, tasks: OPS_TASKS });
    try {
      await submitter.submit('quick', { n: 1 });
      await submitter.submit('late', null);
      await until('the deadline to pass', 10_000, async () => (await submitter.store.opsSnapshot({ sinceMs: 0, limit: 10 })).pastDeadline.length > 0);
      const { result, report } = await doctor(url, '--grace', '0ms');
      assert.equal(result.code, 1);
      assert.deepEqual(failing(report).sort(), ['past-deadline', 'unserved-tasks']);
      assert.deepEqual(report.queues.map((q) => [q.task, q.queued]), [['late', 1], ['quick', 1]]);
      // A freeze record round-trips through PostgreSQL as through SQLite.
      const stack = [{ functionName: 'spin', file: '/app/x.js', line: 3, column: 7 }];
      await submitter.store.recordFreeze({ workerId: 'w1', hostname: 'h', pid: 9, detectedAt: Date.now(), blockedMs: 1234, stack, notes: ['n'], action: 'restart' });
      const frozen = await doctor(url);
      assert.ok(failing(frozen.report).includes('supervisor-freezes'));
      assert.deepEqual(frozen.report.freezes.map((f) => [f.workerId, f.blockedMs, f.action, f.stack, f.notes]), [['w1', 1234, 'restart', stack, ['n']]]);
    } finally {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: process.env.VIGIL_TEST_PG_URL });
      await client.connect();
      await submitter.close();
      await client.query(`DROP SCHEMA IF EXISTS ops_doctor_${process.pid} CASCADE`);
      await client.end();
    }
  });
});
