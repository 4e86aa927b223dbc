// The Store reads the job server stands on (jobDetail, stats, queueDepth, eventsAfter), on every store.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { NewJob, Store } from '../src/store/contract.js';
import { storeFactories, type StoreLocation } from './helpers/stores.js';

const RUN = randomBytes(3).toString('hex');
let n = 0;
const taskName = (p: string): string => `${p}-${RUN}-${++n}`;
const job = (task: string, extra: Partial<NewJob> = {}): NewJob => ({
  task,
  input: { n: 1 },
  retry: { maxAttempts: 1, backoffMs: 0, factor: 2, maxDelayMs: 1000, jitter: 0 },
  ...extra,
});

for (const factory of storeFactories()) {
  if (factory.skip) console.log(`\n*** server reads: the ${factory.name.toUpperCase()} half is SKIPPED (${factory.skip}) ***\n`);
  describe(`store server reads: ${factory.name}`, { skip: factory.skip || undefined }, () => {
    let loc: StoreLocation;
    let store: Store;
    let other: Store;
    before(async () => {
      loc = await factory.create();
      store = await loc.open();
      other = await loc.open();
    });
    after(async () => {
      await loc?.cleanup();
    });

    it('events: one per state change, in seq order, from any connection, resumable by seq', async () => {
      const task = taskName('ev');
      const start = await store.lastEventSeq();
      const [r] = await other.enqueue([job(task)]);
      const id = r!.job.id;
      const [c] = await other.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { [task]: 1 } });
      assert.ok(c);
      await other.finishAttempt(c.fence, { outcome: 'succeeded', result: 1 });
      const events = (await store.eventsAfter(start, 100)).filter((e) => e.jobId === id);
      assert.deepEqual(events.map((e) => [e.state, e.attempt]), [['queued', 0], ['running', 1], ['succeeded', 1]]);
      assert.ok(events[0]!.seq < events[1]!.seq && events[1]!.seq < events[2]!.seq);
      assert.equal(events[0]!.task, task);
      const resumed = await store.eventsAfter(events[0]!.seq, 100);
      assert.equal(resumed[0]!.seq, events[1]!.seq, 'resuming after a seq returns the next event, not it again');
      assert.equal(await store.lastEventSeq(), events[2]!.seq);
      // Heartbeats and logs are not state changes: no events.
      assert.equal((await store.eventsAfter(events[2]!.seq, 100)).length, 0);
    });

    it('events: a cancel request on a running job is an event', async () => {
      const task = taskName('evc');
      await store.enqueue([job(task)]);
      const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { [task]: 1 } });
      const before = await store.lastEventSeq();
      await store.cancel([c!.job.id], 'test');
      const evs = await store.eventsAfter(before, 10);
      assert.equal(evs.length, 1);
      assert.equal(evs[0]!.cancelRequested, true);
      assert.equal(evs[0]!.state, 'running');
    });

    it('jobDetail: job, attempts and children in one read; null for unknown ids', async () => {
      const task = taskName('detail');
      const [p] = await store.enqueue([job(task)]);
      const parent = p!.job;
      await store.enqueue([job(task, { parentId: parent.id, childKey: 'a' }), job(task, { parentId: parent.id, childKey: 'b' })]);
      const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { [task]: 1 } });
      assert.equal(c!.job.id, parent.id);
      const d = await store.jobDetail(parent.id);
      assert.ok(d);
      assert.equal(d.job.state, 'running');
      assert.equal(d.attempts.length, 1);
      assert.deepEqual(d.children.map((j) => j.childKey), ['a', 'b']);
      assert.equal(await store.jobDetail('999999999'), null);
      assert.equal(await store.jobDetail('nope'), null);
    });

    it('stats and queueDepth', async () => {
      const task = taskName('stats');
      const t2 = taskName('stats2');
      await store.enqueue([job(task), job(task), job(t2, { delayMs: 60_000 })]);
      const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { [task]: 1 } });
      await store.finishAttempt(c!.fence, { outcome: 'error', error: { kind: 'error', message: 'x' }, charged: true, retryInMs: null });
      const depth = await store.queueDepth(task);
      assert.equal(depth.task, 1);
      assert.ok(depth.total >= 2);
      const s = await store.stats({ windowMs: 3_600_000, bucketMs: 60_000 });
      assert.equal(s.buckets.length, 60);
      assert.ok(s.buckets[59]!.start <= s.now && s.now < s.buckets[59]!.start + 60_000, 'the last bucket holds now');
      const mine = s.byTask.find((t) => t.task === task);
      assert.deepEqual(mine, { task, queued: 1, running: 0, succeeded: 0, failed: 1, cancelled: 0 });
      assert.ok(s.buckets.reduce((a, b) => a + b.failed, 0) >= 1);
      assert.ok(s.oldestQueuedAt !== null && s.oldestQueuedAt <= s.now);
      const sum = Object.values(s.byState).reduce((a, b) => a + b, 0);
      assert.equal(sum, s.byTask.reduce((a, t) => a + t.queued + t.running + t.succeeded + t.failed + t.cancelled, 0));
    });
  });
}
