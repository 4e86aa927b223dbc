// Issue 10, H3 and H4: a real store outage (PostgreSQL refusing this worker's connections) while an attempt ends
// and while a parent waits on its children. Nothing may be lost or charged: the worker rides it out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { Vigil } from '../src/index.js';
import type { WorkerEvent } from '../src/engine/worker.js';
import { until } from './helpers/engine.js';
import { pgOutage } from './helpers/pg-outage.js';
import { assertNoLeaks, snapshot } from './helpers/leaks.js';

const TASKS = resolve('test/fixtures/race-tasks.ts');
const PG = process.env.VIGIL_TEST_PG_URL;
// The old engine gave an outcome up after 8 failed writes; these outages last longer than that many tries.
const OLD_TRIES = 8;
// Short retries so the outage can outlast 8 of them in about a second (the default is 100 ms doubling to 5 s).
const storeRetry = { firstMs: 20, maxMs: 100 };

describe('store outages on PostgreSQL', { skip: PG ? false : 'VIGIL_TEST_PG_URL not set' }, () => {
  async function setup() {
    const before = snapshot();
    const outage = await pgOutage(PG!);
    const vigil = await Vigil.open({ store: outage.url, tasks: TASKS });
    const worker = await vigil.startWorker({ concurrency: 2, leaseMs: 20_000, pollMs: 100, storeRetry });
    const seen: WorkerEvent[] = [];
    worker.on('event', (e: WorkerEvent) => seen.push(e));
    return {
      vigil,
      outage,
      seen,
      errors: (pattern: RegExp) => seen.filter((e) => e.type === 'error' && pattern.test(e.message)).length,
      async close() {
        await outage.up();
        await vigil.close();
        await outage.cleanup();
        await assertNoLeaks(before, 'the worker, its Vigil and its PostgreSQL store');
      },
    };
  }

  test('H3: a success during an outage longer than the old retries is kept and recorded when the store is back (no crash, no charge)', async () => {
    const s = await setup();
    try {
      const job = await s.vigil.submit('sleeper', { ms: 300, value: 7 });
      await until('the attempt started', 15_000, () => s.seen.some((e) => e.type === 'started' && e.jobId === job.id));
      await s.outage.down();
      const downAt = Date.now();
      // The attempt ends during the outage; its outcome cannot be written.
      await until(`more than ${OLD_TRIES} failed writes of the outcome`, 20_000, () => s.errors(/recording attempt 1 \(succeeded\) failed/) > OLD_TRIES);
      assert.ok(!s.seen.some((e) => e.type === 'finished'), 'no outcome reported while the store is down');
      await s.outage.up();
      const outageMs = Date.now() - downAt;
      await until('the outcome recorded', 20_000, () => s.seen.find((e) => e.type === 'finished' && e.jobId === job.id));
      const finished = s.seen.find((e) => e.type === 'finished' && e.jobId === job.id) as Extract<WorkerEvent, { type: 'finished' }>;
      assert.equal(finished.recorded, true, JSON.stringify(finished));
      assert.equal(finished.outcome, 'succeeded');
      const done = await s.vigil.wait(job.id, { timeout: '10s' });
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, 7);
      assert.equal(done.chargedAttempts, 1, 'only the successful attempt counts');
      const attempts = await s.vigil.attempts(job.id);
      assert.deepEqual(attempts.map((a) => a.outcome), ['succeeded']);
      console.log(`H3: outage of ${outageMs} ms, ${s.errors(/recording attempt/)} failed writes, then recorded`);
    } finally {
      await s.close();
    }
  });

  test('H4: a parent waiting on its children rides out an outage and succeeds in its first attempt', async () => {
    const s = await setup();
    try {
      const parent = await s.vigil.submit('waitParent', { children: 2, ms: 600 });
      await until('both children started', 15_000, () => s.seen.filter((e) => e.type === 'started' && e.jobId !== parent.id).length === 2);
      await s.outage.down();
      const downAt = Date.now();
      await until('the parent failing to read its children', 20_000, () => s.errors(/reading its children failed/) >= 3);
      // The children end during the outage too; their outcomes wait in memory.
      await until('the children done (outcomes waiting)', 20_000, () => s.errors(/recording attempt 1 \(succeeded\) failed/) >= 2);
      await s.outage.up();
      const outageMs = Date.now() - downAt;
      const done = await s.vigil.wait(parent.id, { timeout: '20s' });
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      assert.deepEqual(done.result, [0, 1]);
      assert.equal(done.attempts, 1, 'the parent never failed an attempt');
      assert.deepEqual((await s.vigil.attempts(parent.id)).map((a) => a.outcome), ['succeeded']);
      console.log(`H4: outage of ${outageMs} ms while the parent waited; ${s.errors(/reading its children/)} failed reads`);
    } finally {
      await s.close();
    }
  });

  test('H4: a parent creating its children during an outage waits it out and succeeds in its first attempt', async () => {
    const s = await setup();
    try {
      const parent = await s.vigil.submit('waitParent', { children: 2, ms: 100, beforeMs: 1_000 });
      await until('the parent started', 15_000, () => s.seen.some((e) => e.type === 'started' && e.jobId === parent.id));
      await s.outage.down();
      await until('the parent failing to create its children', 20_000, () => s.errors(/creating its children failed/) >= 3);
      await s.outage.up();
      const done = await s.vigil.wait(parent.id, { timeout: '20s' });
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      assert.deepEqual(done.result, [0, 1]);
      assert.deepEqual((await s.vigil.attempts(parent.id)).map((a) => a.outcome), ['succeeded']);
    } finally {
      await s.close();
    }
  });
});
