// Retries, crashes, shutdown and fencing — with real workers in real processes, killed for real.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../src/store/open.js';
import { Vigil } from '../src/index.js';
import { ENGINE_TASKS, openTestVigil, startWorker, until, type TestVigil } from './helpers/engine.js';
import { exited, runCli, startCli } from './helpers/cli.js';
import { assertNoLeaks, snapshot, type Resources } from './helpers/leaks.js';

describe('retries and errors', () => {
  let t: TestVigil;
  let resources: Resources;
  before(async () => {
    resources = snapshot();
    t = await openTestVigil();
    await startWorker(t.vigil);
  });
  after(async () => {
    await t.cleanup();
    await assertNoLeaks(resources, 'the worker of the retries tests');
  });

  test('failing twice then succeeding: succeeded after 3 attempts with growing delays', async () => {
    const job = await t.vigil.submit('flaky', null);
    const done = await t.vigil.wait(job.id, { timeout: '20s' });
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempts, 3);
    assert.deepEqual(done.result, { attempt: 3 });
    const attempts = await t.vigil.attempts(job.id);
    assert.deepEqual(attempts.map((a) => a.outcome), ['error', 'error', 'succeeded']);
    assert.match(attempts[0]!.error!.message, /flaky failure on attempt 1/);
    assert.ok(attempts[0]!.error!.stack?.includes('engine-tasks.ts'), 'the stack is stored');
    const gap1 = attempts[1]!.startedAt - attempts[0]!.finishedAt!;
    const gap2 = attempts[2]!.startedAt - attempts[1]!.finishedAt!;
    assert.ok(gap1 >= 140, `first delay ${gap1} ms`);
    assert.ok(gap2 > gap1, `delays grow: ${gap1} then ${gap2} ms`);
  });

  test('a NonRetryableError fails at once, with its cause kept', async () => {
    const job = await t.vigil.submit('refuses', null);
    const done = await t.vigil.wait(job.id, { timeout: '10s' });
    assert.equal(done.state, 'failed');
    assert.equal(done.attempts, 1);
    assert.equal(done.error?.kind, 'error');
    assert.equal(done.error?.retryable, false);
    assert.equal((done.error?.cause as { message: string }).message, 'root cause');
  });

  test('a deadline stops retries with kind deadline', async () => {
    const job = await t.vigil.submit('againstDeadline', null);
    const done = await t.vigil.wait(job.id, { timeout: '10s' });
    assert.equal(done.state, 'failed');
    assert.equal(done.error?.kind, 'deadline', JSON.stringify(done.error));
    assert.ok(done.attempts >= 2 && done.attempts <= 6, `${done.attempts} attempts`);
  });

  test('console output and ctx.log reach the job log with stream and timestamp', async () => {
    const job = await t.vigil.submit('printer', { lines: 3 });
    await t.vigil.wait(job.id, { timeout: '10s' });
    const lines = await t.vigil.logs(job.id);
    const text = lines.map((l) => `${l.stream}:${l.line}`);
    for (const expected of ['stdout:line 0', 'stdout:line 2', 'stderr:to stderr']) assert.ok(text.includes(expected), `${expected} in ${text}`);
    assert.ok(text.some((l) => l.startsWith('log:via ctx.log')));
    assert.ok(lines.every((l) => l.ts > 0));
  });

  test('per-task concurrency caps hold', async () => {
    const file = join(t.dir, 'capped.txt');
    const jobs = await Promise.all([1, 2, 3].map(() => t.vigil.submit('capped', { file })));
    for (const j of jobs) await t.vigil.wait(j.id, { timeout: '10s' });
    const events = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    assert.deepEqual(events, ['start', 'end', 'start', 'end', 'start', 'end']);
  });
});

describe('crash: a SIGKILLed worker loses its leases and another worker finishes its jobs', () => {
  let t: TestVigil;
  before(async () => (t = await openTestVigil()));
  after(async () => t.cleanup());

  test('20 running jobs survive a SIGKILL', async () => {
    const file = join(t.dir, 'effects.txt');
    // Attempt 1 runs long enough to be running at the kill however the worker ramps up its threads (a few are warm,
    // the rest start once attempts are seen to be long); the re-runs are short.
    const jobs = await Promise.all(Array.from({ length: 20 }, () => t.vigil.submit('sideEffect', { file, ms: 100, firstMs: 30_000 })));
    const first = startCli(['worker', '--tasks', ENGINE_TASKS, '--store', t.storeUrl, '--concurrency', '20', '--lease', '2s']);
    try {
      await until('20 attempts running', 20_000, () => existsSync(file) && readFileSync(file, 'utf8').trim().split('\n').length >= 20);
    } finally {
      // Also when the wait fails: a worker left running keeps this file's process alive until --test-timeout.
      first.kill('SIGKILL');
    }
    await exited(first, 5_000);
    const second = startCli(['worker', '--tasks', ENGINE_TASKS, '--store', t.storeUrl, '--concurrency', '20', '--lease', '2s']);
    try {
      for (const j of jobs) {
        const done = await t.vigil.wait(j.id, { timeout: '30s' });
        assert.equal(done.state, 'succeeded');
        const attempts = await t.vigil.attempts(j.id);
        assert.equal(attempts.filter((a) => a.outcome === 'succeeded').length, 1, 'exactly one success');
        assert.equal(attempts[0]!.outcome, 'crashed');
      }
      const records = readFileSync(file, 'utf8').trim().split('\n');
      for (const j of jobs) {
        assert.ok(records.includes(`${j.id}:1`) && records.includes(`${j.id}:2`), `both attempts of ${j.id} recorded`);
      }
    } finally {
      second.kill('SIGTERM');
      await exited(second, 15_000);
    }
  });

  test("an idle worker whose poll is far longer than the lease still re-runs a SIGKILLed worker's job (it wakes for its recovery sweep)", async () => {
    const file = join(t.dir, 'idle-rescuer.txt');
    const first = startCli(['worker', '--tasks', ENGINE_TASKS, '--store', t.storeUrl, '--concurrency', '1', '--lease', '2s']);
    let rescuerVigil: Vigil | null = null;
    let rescuer: Awaited<ReturnType<Vigil['startWorker']>> | null = null;
    try {
      const job = await t.vigil.submit('sideEffect', { file, ms: 10, firstMs: 60_000 });
      await until('the first attempt running', 20_000, () => existsSync(file));
      // Another Vigil on the store, so nothing it is told in-process wakes it: only its poll (60 s here; PostgreSQL's
      // default is 5 s, which made crashed jobs wait for it) or its recovery sweep. Its first sweep and claim are
      // over, with the lease still renewed, when it first goes idle.
      rescuerVigil = await Vigil.open({ store: t.storeUrl, tasks: ENGINE_TASKS });
      const r = await rescuerVigil.startWorker({ concurrency: 1, leaseMs: 2_000, pollMs: 60_000 });
      rescuer = r;
      await new Promise<void>((resolve) => {
        const onEvent = (e: { type: string }): void => {
          if (e.type !== 'idle') return;
          r.off('event', onEvent);
          resolve();
        };
        r.on('event', onEvent);
      });
      first.kill('SIGKILL');
      await exited(first, 5_000);
      const done = await t.vigil.wait(job.id, { timeout: '20s' });
      assert.equal(done.state, 'succeeded');
      assert.deepEqual((await t.vigil.attempts(job.id)).map((a) => a.outcome), ['crashed', 'succeeded']);
    } finally {
      first.kill('SIGKILL');
      await rescuer?.stop();
      await rescuerVigil?.close();
    }
  });

  test('a zombie attempt cannot complete after losing its lease (fencing)', async () => {
    const store = await openStore(t.storeUrl);
    try {
      const [{ job }] = (await store.enqueue([{ task: 'noop', input: null, retry: { maxAttempts: 3, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 } }])) as [{ job: { id: string } }];
      const [zombie] = await store.claim({ workerId: 'zombie', leaseMs: 200, limit: 1, tasks: { noop: 1 }, rootJobId: job.id });
      assert.ok(zombie);
      await until('the lease to expire and be recovered', 5_000, async () => (await store.recoverExpired()).some((j) => j.id === job.id));
      const [fresh] = await store.claim({ workerId: 'fresh', leaseMs: 30_000, limit: 1, tasks: { noop: 1 }, rootJobId: job.id });
      assert.equal(fresh?.fence.attempt, 2);
      assert.equal(await store.finishAttempt(zombie.fence, { outcome: 'succeeded', result: 'zombie' }), null);
      assert.notEqual(await store.finishAttempt(fresh!.fence, { outcome: 'succeeded', result: 'fresh' }), null);
      const final = await store.get(job.id);
      assert.equal(final?.result, 'fresh');
    } finally {
      await store.close();
    }
  });
});

describe('graceful shutdown', () => {
  let t: TestVigil;
  before(async () => (t = await openTestVigil()));
  after(async () => t.cleanup());

  /** `firstMs`: how long each job's first attempt runs; re-runs (after a drain handed them back) take `ms`. */
  async function runningWorker(drain: string, file: string, timing: { ms: number; firstMs?: number }) {
    const worker = startCli(['worker', '--tasks', ENGINE_TASKS, '--store', t.storeUrl, '--concurrency', '5', '--drain', drain]);
    try {
      const jobs = await Promise.all(Array.from({ length: 5 }, () => t.vigil.submit('sideEffect', { file, ...timing })));
      await until('5 attempts running', 15_000, () => existsSync(file) && readFileSync(file, 'utf8').trim().split('\n').length >= 5);
      return { worker, jobs };
    } catch (err) {
      // A worker left running keeps this file's process alive until --test-timeout.
      worker.kill('SIGKILL');
      throw err;
    }
  }

  test('SIGTERM with a 10 s drain: all 5 running jobs succeed, exit 0', async () => {
    const { worker, jobs } = await runningWorker('10s', join(t.dir, 'drain-long.txt'), { ms: 2_000 });
    worker.kill('SIGTERM');
    assert.equal(await exited(worker, 15_000), 0);
    for (const j of jobs) assert.equal((await t.vigil.get(j.id)).state, 'succeeded');
  });

  test('SIGTERM with a 0.5 s drain: the jobs return to the queue and a new worker finishes them', async () => {
    // The first attempts would run 30 s (the drain stops them after 0.5 s): still running at the SIGTERM however slowly
    // the fifth one starts (with 2 s, the first ones ended before it on a loaded machine); the re-runs are short.
    const { worker, jobs } = await runningWorker('500ms', join(t.dir, 'drain-short.txt'), { ms: 100, firstMs: 30_000 });
    worker.kill('SIGTERM');
    assert.equal(await exited(worker, 10_000), 0);
    for (const j of jobs) {
      const job = await t.vigil.get(j.id);
      assert.equal(job.state, 'queued');
      assert.equal(job.chargedAttempts, 0, 'a drained attempt is not charged');
    }
    const next = startCli(['worker', '--tasks', ENGINE_TASKS, '--store', t.storeUrl, '--concurrency', '5']);
    try {
      for (const j of jobs) assert.equal((await t.vigil.wait(j.id, { timeout: '20s' })).state, 'succeeded');
    } finally {
      next.kill('SIGTERM');
      await exited(next, 15_000);
    }
  });
});

describe('a plain JavaScript tasks module', () => {
  test('runs in a thread and in a process (vigil run)', async () => {
    const { openTestVigil: open } = await import('./helpers/engine.js');
    const t = await open({ tasks: 'test/fixtures/engine-tasks-plain.js' });
    try {
      for (const task of ['double', 'doubleInProcess']) {
        const { code, output } = await runCli(['run', task, '--tasks', 'test/fixtures/engine-tasks-plain.js', '--store', t.storeUrl, '--input', '{"n":21}', '--json'], 20_000);
        assert.equal(code, 0, output);
        assert.equal(JSON.parse(output.slice(output.indexOf('{'), output.lastIndexOf('}') + 1)).result, 42);
      }
    } finally {
      await t.cleanup();
    }
  });
});
