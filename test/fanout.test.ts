// G6 and G7: fan-out never deadlocks, and every child outcome is reported.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openTestVigil, startWorker, until, type TestVigil } from './helpers/engine.js';
import { exited, startCli } from './helpers/cli.js';
import { assertNoLeaks, snapshot, type Resources } from './helpers/leaks.js';
import type { ChildOutcome } from '../src/index.js';

const TASKS = resolve('test/fixtures/fanout-tasks.ts');

describe('fan-out and fan-in', () => {
  let t: TestVigil;
  let resources: Resources;
  before(async () => {
    resources = snapshot();
    t = await openTestVigil({ tasks: TASKS });
  });
  after(async () => {
    await t.cleanup();
    await assertNoLeaks(resources, 'the fan-out workers');
  });

  test('6 parents × 8 chunks of 200 ms CPU on 2 slots: all 54 jobs succeed in the time the work needs', async () => {
    const worker = await startWorker(t.vigil, { concurrency: 2 });
    const started = Date.now();
    const parents = await Promise.all(Array.from({ length: 6 }, () => t.vigil.submit('parent', { chunks: 8, ms: 200 })));
    for (const p of parents) {
      const done = await t.vigil.wait(p.id, { timeout: '40s' });
      assert.equal(done.state, 'succeeded');
      assert.deepEqual(done.result, [0, 10, 20, 30, 40, 50, 60, 70]);
    }
    const took = Date.now() - started;
    // 48 chunks × 200 ms / 2 slots = 4.8 s of work; margin 5 s for thread start-up and store round trips.
    assert.ok(took < 4_800 + 5_000, `took ${took} ms`);
    const all = await t.vigil.list({ limit: 1000 });
    assert.equal(all.filter((j) => j.state === 'succeeded').length, 54);
    const children = await t.vigil.children(parents[0]!.id);
    assert.equal(children.length, 8);
    assert.ok(children.every((c) => c.parentId === parents[0]!.id));
    await worker.stop();
  });

  test('nesting 4 levels deep, 3 wide, with 1 slot completes', async () => {
    const worker = await startWorker(t.vigil, { concurrency: 1 });
    const job = await t.vigil.submit('nest', { level: 1, max: 4 });
    const done = await t.vigil.wait(job.id, { timeout: '60s' });
    assert.equal(done.state, 'succeeded');
    assert.equal(done.result, 1 + 3 + 9 + 27);
    await worker.stop();
  });

  describe('10 chunks, 3 of which throw', () => {
    before(async () => {
      await startWorker(t.vigil, { concurrency: 2 });
    });

    test('allSettled returns exactly the 3 failures with their messages and 7 values', async () => {
      const job = await t.vigil.submit('batch', { policy: 'allSettled', failing: [2, 5, 8], ms: 10 });
      const done = await t.vigil.wait(job.id, { timeout: '30s' });
      assert.equal(done.state, 'succeeded');
      const outcomes = done.result as unknown as ChildOutcome<number>[];
      assert.equal(outcomes.length, 10);
      const failed = outcomes.filter((o) => o.status === 'failed');
      assert.deepEqual(failed.map((o) => o.key), ['k2', 'k5', 'k8']);
      for (const f of failed) if (f.status === 'failed') assert.match(f.message, /chunk \d is corrupt/);
      assert.deepEqual(outcomes.filter((o) => o.status === 'succeeded').map((o) => (o.status === 'succeeded' ? o.value : -1)), [0, 1, 3, 4, 6, 7, 9]);
    });

    test('failFast fails the parent with kind children, names the failed child, kills running siblings', async () => {
      const job = await t.vigil.submit('batch', { policy: 'failFast', failing: [1], ms: 20_000 });
      const done = await t.vigil.wait(job.id, { timeout: '30s' });
      assert.equal(done.state, 'failed');
      assert.equal(done.error?.kind, 'children');
      assert.match(done.error!.message, /key k1/);
      assert.match(done.error!.message, /chunk 1 is corrupt/);
      const children = await t.vigil.children(job.id);
      await until('every sibling to end', 10_000, async () => (await t.vigil.children(job.id)).every((c) => ['succeeded', 'failed', 'cancelled'].includes(c.state)));
      const killed = [];
      for (const c of children.filter((c) => c.childKey !== 'k1')) {
        const final = await t.vigil.get(c.id);
        assert.equal(final.state, 'cancelled', `sibling ${c.childKey} is ${final.state}`);
        const attempts = await t.vigil.attempts(c.id);
        if (attempts.length) {
          assert.equal(attempts.at(-1)!.outcome, 'cancelled');
          killed.push(c.id);
        }
      }
      assert.ok(killed.length >= 1, 'at least one running sibling was killed');
    });

    test('minSuccess 0.8 fails, 0.5 succeeds', async () => {
      const strict = await t.vigil.submit('batch', { policy: { minSuccess: 0.8 }, failing: [2, 5, 8], ms: 10 });
      const lenient = await t.vigil.submit('batch', { policy: { minSuccess: 0.5 }, failing: [2, 5, 8], ms: 10 });
      const s = await t.vigil.wait(strict.id, { timeout: '30s' });
      const l = await t.vigil.wait(lenient.id, { timeout: '30s' });
      assert.equal(s.state, 'failed');
      assert.equal(s.error?.kind, 'children');
      assert.match(s.error!.message, /7 of 10/);
      assert.equal(l.state, 'succeeded');
      assert.equal((l.result as unknown[]).length, 10);
    });
  });
});

describe('a worker killed while a parent waits', () => {
  let t: TestVigil;
  before(async () => (t = await openTestVigil({ tasks: TASKS })));
  after(async () => t.cleanup());

  test('after recovery the 5 finished children are not run again and the result is the same', async () => {
    const file = join(t.dir, 'runs.txt');
    // The slow children's first attempts (4 s) are still running at the kill; their re-runs take 100 ms.
    const job = await t.vigil.submit('resumable', { file, slowMs: 4_000, rerunMs: 100 });
    const worker = startCli(['worker', '--tasks', TASKS, '--store', t.storeUrl, '--concurrency', '4', '--lease', '2s']);
    try {
      await until('5 children done', 20_000, async () => (await t.vigil.children(job.id)).filter((c) => c.state === 'succeeded').length >= 5);
    } finally {
      // Also when the wait fails: a worker left running keeps this file's process alive until --test-timeout.
      worker.kill('SIGKILL');
    }
    await exited(worker, 5_000);
    const second = startCli(['worker', '--tasks', TASKS, '--store', t.storeUrl, '--concurrency', '4', '--lease', '2s']);
    try {
      const done = await t.vigil.wait(job.id, { timeout: '40s' });
      assert.equal(done.state, 'succeeded');
      assert.deepEqual(done.result, [0, 1, 4, 9, 16, 25, 36, 49]);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      for (let i = 0; i < 5; i++) assert.equal(lines.filter((l) => l === `child ${i}`).length, 1, `child ${i} ran once`);
      assert.ok(lines.filter((l) => l.startsWith('parent')).length >= 2, 'the parent ran again');
    } finally {
      second.kill('SIGTERM');
      await exited(second, 15_000);
    }
    assert.ok(existsSync(file));
  });

  test('1,000 children under one parent on 4 slots: flat memory, one batched enqueue', async () => {
    const worker = await startWorker(t.vigil, { concurrency: 4 });
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const job = await t.vigil.submit('wide', { n: 1000 });
    const done = await t.vigil.wait(job.id, { timeout: '120s' });
    clearInterval(sampler);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.result, 1000);
    const kids = await t.vigil.children(job.id);
    assert.equal(kids.length, 1000);
    // One batch: every child was created in the same store transaction, so they share one creation time.
    assert.equal(new Set(kids.map((k) => k.createdAt)).size, 1, 'children enqueued in one batch');
    const growthMb = (peak - rssBefore) / 1024 / 1024;
    console.log(`fan-out 1000: worker (test process) RSS ${Math.round(rssBefore / 1048576)} MiB → peak ${Math.round(peak / 1048576)} MiB`);
    assert.ok(growthMb < 100, `worker RSS grew ${growthMb.toFixed(1)} MiB`);
    await worker.stop();
  });
});
