import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Vigil } from '../src/index.js';
import type { Store } from '../src/store/contract.js';
import { storeFactories, waitUntil, type StoreLocation } from './helpers/stores.js';
import { maxInWindow, rateLimitRun } from './helpers/flow.js';

import { FLOW_TASKS } from './helpers/flow.js';

for (const factory of storeFactories()) {
  describe(`rate limits on ${factory.name}`, { skip: factory.skip || undefined }, () => {
    const locations: StoreLocation[] = [];
    after(async () => {
      for (const l of locations) await l.cleanup();
    });
    async function fresh(): Promise<{ loc: StoreLocation; store: Store }> {
      const loc = await factory.create();
      locations.push(loc);
      return { loc, store: await loc.open() };
    }

    it('40 jobs, max 10 per 1 s, 3 worker processes: never more than 10 starts in any 1 s window, done in 4 s ± 2 s', { timeout: 120_000 }, async () => {
      const { loc } = await fresh();
      const r = await rateLimitRun(loc, 40);
      console.log(`rate limit (${factory.name}): 40 jobs, span of starts ${r.spanMs} ms, first start to last end ${r.totalMs} ms, max ${r.maxPerSecond} starts in 1 s`);
      assert.equal(r.starts.length, 40, 'one attempt per job');
      assert.ok(r.maxPerSecond <= 10, `at most 10 starts in any 1 s window (got ${r.maxPerSecond})`);
      assert.ok(r.spanMs >= 3_000, `four windows are needed: the last start is ≥ 3 s after the first (got ${r.spanMs})`);
      assert.ok(r.totalMs <= 6_000, `done within 4 s + 2 s (got ${r.totalMs})`);
    });

    it('per-key buckets: each tenant is limited on its own, and a limited job shows why it waits', { timeout: 60_000 }, async () => {
      const { loc } = await fresh();
      const vigil = await Vigil.open({ store: loc.url, tasks: FLOW_TASKS });
      try {
        const a = await Promise.all([0, 1, 2].map(() => vigil.submit('keyed', { tenant: 'a' })));
        const b = await Promise.all([0, 1, 2].map(() => vigil.submit('keyed', { tenant: 'b' })));
        const worker = await vigil.startWorker({ concurrency: 4, pollMs: 50 });
        try {
          const waiting = await waitUntil('a job waiting on the rate limit', async () => (await vigil.list({ task: 'keyed', state: 'queued' })).find((j) => j.waitReason), 10_000);
          assert.match(waiting.waitReason!, /^rate limit of keyed for (a|b) \(1 per 1s\)$/);
          assert.ok(waiting.runAt > Date.now() - 50, 'its runAt is the next free slot');
          await waitUntil('all keyed jobs', async () => (await vigil.store.counts()).succeeded === 6, 20_000, 50);
        } finally {
          await worker.stop();
        }
        for (const group of [a, b]) {
          const starts = (await Promise.all(group.map((j) => vigil.store.attempts(j.id)))).flat().map((x) => x.startedAt).sort((x, y) => x - y);
          assert.equal(maxInWindow(starts, 1_000), 1, `one start per second per tenant: ${starts.join(', ')}`);
        }
        const first = (await Promise.all([...a, ...b].map((j) => vigil.store.attempts(j.id)))).flat().map((x) => x.startedAt).sort((x, y) => x - y);
        assert.ok(first[1]! - first[0]! < 900, 'tenants a and b started together: the buckets are separate');
        assert.equal((await vigil.get(a[0]!.id)).waitReason, null, 'the reason is cleared once the job runs');
      } finally {
        await vigil.close();
      }
    });

    it('RetryAfterError re-queues at the given time without charging an attempt', { timeout: 60_000 }, async () => {
      const { loc } = await fresh();
      const vigil = await Vigil.open({ store: loc.url, tasks: FLOW_TASKS });
      try {
        const job = await vigil.submit('backoff', { times: 2, ms: 400 });
        const worker = await vigil.startWorker({ concurrency: 2, pollMs: 50 });
        try {
          const done = await vigil.wait(job.id, { timeout: '20s' });
          assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
          assert.equal(done.result, 3);
          assert.equal(done.maxAttempts, 1, 'retries: 0 — a charged RetryAfterError attempt would have failed the job');
          assert.equal(done.chargedAttempts, 1);
          const attempts = await vigil.attempts(job.id);
          assert.deepEqual(attempts.map((x) => [x.outcome, x.charged]), [['error', false], ['error', false], ['succeeded', true]]);
          assert.equal(attempts[0]!.error!.code, 'VIGIL_RETRY_AFTER');
          for (let i = 1; i < 3; i++) assert.ok(attempts[i]!.startedAt - attempts[i - 1]!.finishedAt! >= 390, `re-queued ≥ 400 ms later (attempt ${i + 1})`);
        } finally {
          await worker.stop();
        }
      } finally {
        await vigil.close();
      }
    });

    it('RetryAfterError with pauseTask: no job of the task starts anywhere before the pause ends', { timeout: 60_000 }, async () => {
      const { loc } = await fresh();
      const vigil = await Vigil.open({ store: loc.url, tasks: FLOW_TASKS });
      try {
        const first = await vigil.submit('backoff', { times: 1, ms: 1_500, pause: true });
        const worker = await vigil.startWorker({ concurrency: 2, pollMs: 50 });
        try {
          const pausedAt = await waitUntil('the first attempt to end', async () => (await vigil.attempts(first.id))[0]?.finishedAt ?? undefined, 10_000, 20);
          await waitUntil('the pause', async () => (await vigil.store.flowState()).pauses.length > 0 || undefined, 5_000, 20);
          const second = await vigil.submit('backoff', { times: 0, ms: 0 });
          const waiting = await waitUntil('the second job to show the pause', async () => {
            const j = await vigil.get(second.id);
            return j.state === 'queued' && j.waitReason ? j : undefined;
          }, 5_000, 20);
          assert.match(waiting.waitReason!, /^task backoff is paused: RetryAfterError/);
          const done = await vigil.wait(second.id, { timeout: '20s' });
          assert.equal(done.state, 'succeeded');
          const [attempt] = await vigil.attempts(second.id);
          assert.ok(attempt!.startedAt >= pausedAt + 1_400, `started ${attempt!.startedAt - pausedAt} ms after the pause began`);
          assert.equal((await vigil.wait(first.id, { timeout: '20s' })).state, 'succeeded');
        } finally {
          await worker.stop();
        }
      } finally {
        await vigil.close();
      }
    });
  });
}
