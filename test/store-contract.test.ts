// One suite, every store: the Store contract (src/store/contract.ts) as behaviour. Only contract facts are checked
// here, never one backend's internals (those live in test/sqlite-store.test.ts and the PostgreSQL tests).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AttemptFinish, Fence, NewJob, Store, StoreEvent } from '../src/store/contract.js';
import { nextState } from '../src/store/next-state.js';
import { HELD_RECOVERIES_MAX } from '../src/store/store-errors.js';
import type { HangReport, Job, RetryPolicy, SerializedError } from '../src/types.js';
import { storeFactories, waitUntil, type StoreLocation } from './helpers/stores.js';

const RUN = randomBytes(3).toString('hex');
const DRAIN_CHILD = join(import.meta.dirname, 'fixtures', 'store-drain-child.ts');
let seq = 0;
/** A task name of its own per test: tests share one store location and must not claim each other's jobs. */
const taskName = (p: string): string => `${p}-${RUN}-${++seq}`;

function policy(maxAttempts = 3, backoffMs = 0): RetryPolicy {
  return { maxAttempts, backoffMs, factor: 2, maxDelayMs: 60_000, jitter: 0 };
}

function job(task: string, extra: Partial<NewJob> = {}): NewJob {
  return { task, input: { n: 1 }, retry: policy(), ...extra };
}

const err = (message: string, kind: SerializedError['kind'] = 'error'): SerializedError => ({ kind, message, name: 'Error', stack: `Error: ${message}\n    at here (file.ts:1:1)` });

async function enqueueOne(store: Store, task: string, extra: Partial<NewJob> = {}): Promise<Job> {
  const [r] = await store.enqueue([job(task, extra)]);
  return r!.job;
}

async function claimOne(store: Store, task: string, workerId = 'w1', leaseMs = 30_000): Promise<{ job: Job; fence: Fence }> {
  const claimed = await store.claim({ workerId, leaseMs, limit: 1, tasks: { [task]: 1 } });
  assert.equal(claimed.length, 1, `expected to claim one job of ${task}`);
  return claimed[0]!;
}

async function mustGet(store: Store, id: string): Promise<Job> {
  const j = await store.get(id);
  assert.ok(j, `job ${id} should exist`);
  return j;
}

for (const factory of storeFactories()) {
  if (factory.skip) {
    console.log(`\n*** store contract: the ${factory.name.toUpperCase()} half is SKIPPED (${factory.skip}) ***\n`);
  }
  describe(`store contract: ${factory.name}`, { skip: factory.skip || undefined }, () => {
    let loc: StoreLocation;
    let store: Store;
    before(async () => {
      loc = await factory.create();
      store = await loc.open();
    });
    after(async () => {
      await loc?.cleanup();
    });

    it('enqueue, get, getMany, list and children', async () => {
      const task = taskName('basic');
      const t0 = await store.now();
      const res = await store.enqueue([job(task, { input: { a: [1, 'x', null] } }), job(task, { input: null, priority: 5 }), job(task, { input: 'str' })]);
      assert.equal(res.length, 3);
      assert.ok(res.every((r) => r.created));
      const [a, b, c] = res.map((r) => r.job) as [Job, Job, Job];
      for (const j of [a, b, c]) assert.match(j.id, /^[0-9]+$/);
      assert.ok(BigInt(a.id) < BigInt(b.id) && BigInt(b.id) < BigInt(c.id), 'ids increase in batch order');
      assert.equal(a.state, 'queued');
      assert.equal(a.task, task);
      assert.deepEqual(a.input, { a: [1, 'x', null] });
      assert.equal(b.input, null);
      assert.equal(b.priority, 5);
      assert.equal(a.priority, 0);
      assert.equal(a.attempts, 0);
      assert.equal(a.chargedAttempts, 0);
      assert.equal(a.maxAttempts, 3);
      assert.equal(a.result, null);
      assert.equal(a.error, null);
      assert.equal(a.parentId, null);
      assert.equal(a.cancelRequested, false);
      assert.ok(a.createdAt >= t0 - 1000 && a.runAt >= a.createdAt);

      assert.deepEqual(await store.get(a.id), a);
      assert.equal(await store.get('999999999'), null);
      assert.equal(await store.get('not-an-id'), null);
      assert.deepEqual((await store.getMany([c.id, '999999999', a.id])).map((j) => j.id), [c.id, a.id]);

      const listed = await store.list({ task });
      assert.deepEqual(listed.map((j) => j.id), [c.id, b.id, a.id], 'newest first');
      assert.deepEqual((await store.list({ task, limit: 2 })).map((j) => j.id), [c.id, b.id]);
      assert.deepEqual((await store.list({ task, beforeId: c.id })).map((j) => j.id), [b.id, a.id]);
      assert.deepEqual((await store.list({ task, state: 'running' })).length, 0);
      assert.equal((await store.list({ task, state: 'queued' })).length, 3);

      const kids = await store.enqueue([job(task, { parentId: a.id, childKey: 'k2' }), job(task, { parentId: a.id, childKey: 'k1' })]);
      assert.deepEqual((await store.children(a.id)).map((j) => j.childKey), ['k2', 'k1'], 'creation order');
      assert.equal(kids[0]!.job.parentId, a.id);
      assert.deepEqual((await store.list({ task, parentId: a.id })).map((j) => j.id).sort(), kids.map((k) => k.job.id).sort());
      assert.equal((await store.list({ task, parentId: null })).length, 3);
      assert.deepEqual(await store.children(c.id), []);
    });

    it('dedupes idempotency keys and (parent, key) children, across and within batches', async () => {
      const task = taskName('dedupe');
      const key = `idem-${RUN}-${seq}`;
      const [first, again] = await store.enqueue([job(task, { idempotencyKey: key }), job(task, { idempotencyKey: key, input: 'other' })]);
      assert.equal(first!.created, true);
      assert.equal(again!.created, false);
      assert.equal(again!.job.id, first!.job.id);
      assert.deepEqual(again!.job.input, { n: 1 }, 'the existing job is returned, not the new input');
      const [later] = await store.enqueue([job(task, { idempotencyKey: key })]);
      assert.equal(later!.created, false);
      assert.equal(later!.job.id, first!.job.id);

      const parent = await enqueueOne(store, task);
      const other = await enqueueOne(store, task);
      const r = await store.enqueue([
        job(task, { parentId: parent.id, childKey: '0' }),
        job(task, { parentId: parent.id, childKey: '0' }),
        job(task, { parentId: other.id, childKey: '0' }),
        job(task, { parentId: parent.id, childKey: '1' }),
      ]);
      assert.deepEqual(r.map((x) => x.created), [true, false, true, true]);
      assert.equal(r[1]!.job.id, r[0]!.job.id);
      assert.notEqual(r[2]!.job.id, r[0]!.job.id);
      const [rerun] = await store.enqueue([job(task, { parentId: parent.id, childKey: '1' })]);
      assert.equal(rerun!.created, false);
      assert.equal(rerun!.job.id, r[3]!.job.id);
      assert.equal((await store.children(parent.id)).length, 2);
    });

    it('enqueues 1,000 children in one call', async () => {
      const task = taskName('fanout');
      const parent = await enqueueOne(store, task);
      const batch = Array.from({ length: 1000 }, (_, i) => job(task, { parentId: parent.id, childKey: String(i), input: { i } }));
      const t = performance.now();
      const res = await store.enqueue(batch);
      const ms = performance.now() - t;
      console.log(`[${factory.name}] enqueue of 1,000 children: ${ms.toFixed(1)} ms`);
      assert.equal(res.length, 1000);
      assert.ok(res.every((r, i) => r.created && r.job.childKey === String(i)));
      const again = await store.enqueue(batch);
      assert.ok(again.every((r, i) => !r.created && r.job.id === res[i]!.job.id));
      assert.equal((await store.children(parent.id)).length, 1000);
    });

    it('claims by priority, then runAt, then id, within per-task limits', async () => {
      const a = taskName('claimA');
      const b = taskName('claimB');
      const ignored = taskName('claimIgnored');
      const res = await store.enqueue([
        job(a, { priority: 0 }),
        job(a, { priority: 10 }),
        job(a, { priority: 0 }),
        job(b, { priority: 5 }),
        job(b, { priority: 5 }),
        job(b, { priority: 5 }),
        job(ignored, { priority: 100 }),
        job(a, { priority: 50, delayMs: 60_000 }),
      ]);
      const ids = res.map((r) => r.job.id);
      assert.deepEqual(await store.claim({ workerId: 'w', leaseMs: 1000, limit: 0, tasks: { [a]: 5 } }), []);
      assert.deepEqual(await store.claim({ workerId: 'w', leaseMs: 1000, limit: 5, tasks: {} }), []);
      const now = await store.now();
      const claimed = await store.claim({ workerId: 'w-claim', leaseMs: 10_000, limit: 4, tasks: { [a]: 2, [b]: 10 } });
      assert.deepEqual(claimed.map((c) => c.job.id), [ids[1], ids[3], ids[4], ids[5]], 'a:p10, then b:p5 ×3; a is capped at 2 but limit 4 ends it');
      for (const c of claimed) {
        assert.equal(c.job.state, 'running');
        assert.equal(c.job.attempts, 1);
        assert.equal(c.job.leaseOwner, 'w-claim');
        assert.ok(c.job.leaseExpiresAt! >= now + 10_000 - 50 && c.job.leaseExpiresAt! <= now + 10_000 + 5_000);
        assert.ok(c.job.startedAt !== null);
        assert.deepEqual(c.fence, { jobId: c.job.id, attempt: 1, workerId: 'w-claim' });
        const atts = await store.attempts(c.job.id);
        assert.equal(atts.length, 1);
        assert.equal(atts[0]!.attempt, 1);
        assert.equal(atts[0]!.workerId, 'w-claim');
        assert.equal(atts[0]!.finishedAt, null);
        assert.equal(atts[0]!.outcome, null);
      }
      const next = await store.claim({ workerId: 'w-claim', leaseMs: 10_000, limit: 10, tasks: { [a]: 1, [b]: 10 } });
      assert.deepEqual(next.map((c) => c.job.id), [ids[0]], 'per-task limit 1; the delayed job waits');
      assert.equal((await mustGet(store, ids[6]!)).state, 'queued', 'tasks not asked for are never claimed');
      assert.equal((await mustGet(store, ids[7]!)).state, 'queued');
    });

    it('claims only one job tree when rootJobId is given (vigil run)', async () => {
      const task = taskName('rooted');
      const [other] = await store.enqueue([job(task, { priority: 100 })]);
      const root = await enqueueOne(store, task);
      const [child] = await store.enqueue([job(task, { parentId: root.id, childKey: 'c' })]);
      const [grandchild] = await store.enqueue([job(task, { parentId: child!.job.id, childKey: 'g' })]);
      const claimed = await store.claim({ workerId: 'w-root', leaseMs: 10_000, limit: 10, tasks: { [task]: 10 }, rootJobId: root.id });
      assert.deepEqual(claimed.map((c) => c.job.id).sort(), [root.id, child!.job.id, grandchild!.job.id].sort());
      assert.equal((await mustGet(store, other!.job.id)).state, 'queued', 'a job outside the tree is never claimed');
    });

    it('three processes and this one claiming at once never get the same job', async () => {
      // Separate OS processes, each with its own store instance: the real race (SQLite's write lock and busy retry,
      // PostgreSQL's row locks). Two instances inside one process would prove nothing on SQLite, whose synchronous
      // driver runs their calls one after the other.
      const task = taskName('race');
      const n = 300;
      await store.enqueue(Array.from({ length: n }, (_, i) => job(task, { input: i })));
      const children = [1, 2, 3].map((k) => {
        const p = spawn(process.execPath, ['--import', 'tsx', DRAIN_CHILD, loc.url, task, `w-proc-${k}`], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let errOut = '';
        p.stdout.on('data', (d: Buffer) => (out += d));
        p.stderr.on('data', (d: Buffer) => (errOut += d));
        const ready = waitUntil(`process ${k} to be ready`, () => out.startsWith('ready\n'), 60_000, 20);
        const done = new Promise<string[]>((res, rej) =>
          p.on('close', (code) => (code === 0 ? res(JSON.parse(out.replace(/^ready\n/, '').trim()) as string[]) : rej(new Error(`drain ${k} exited ${code}: ${errOut}`)))),
        );
        return { p, ready, done };
      });
      try {
        await Promise.all(children.map((c) => c.ready));
        for (const c of children) c.p.stdin.end('go\n');
        const mine: string[] = [];
        for (;;) {
          const got = await store.claim({ workerId: 'w-here', leaseMs: 60_000, limit: 3, tasks: { [task]: 3 } });
          if (got.length === 0) break;
          mine.push(...got.map((c) => c.job.id));
        }
        const theirs = await Promise.all(children.map((c) => c.done));
        const all = [...mine, ...theirs.flat()];
        assert.equal(new Set(all).size, all.length, 'no job claimed twice');
        assert.equal(all.length, n);
        console.log(`[${factory.name}] claimed per process: ${[mine, ...theirs].map((x) => x.length).join(', ')}`);
      } finally {
        for (const c of children) c.p.kill('SIGKILL');
      }
    });

    it('fencing: a stale fence cannot finish, log or heartbeat; an attempt finishes once', async () => {
      const task = taskName('fence');
      const j = await enqueueOne(store, task);
      const { fence } = await claimOne(store, task, 'w-fence');
      const stale: Fence[] = [
        { ...fence, attempt: 2 },
        { ...fence, workerId: 'intruder' },
        { ...fence, jobId: '999999999' },
      ];
      for (const f of stale) {
        assert.equal(await store.finishAttempt(f, { outcome: 'succeeded', result: 'zombie' }), null);
        await store.appendLogs([{ fence: f, ts: Date.now(), stream: 'log', line: 'zombie line' }]);
        await store.recordActivity([{ fence: f, heartbeatAt: 123, progress: { fraction: 0.9 } }]);
      }
      const r = await store.renewLeases('w-fence', [fence, stale[0]!], 30_000);
      assert.deepEqual(r.lost, [stale[0]]);
      assert.deepEqual(r.cancelRequested, []);
      let now = await mustGet(store, j.id);
      assert.equal(now.state, 'running');
      assert.equal(now.lastHeartbeatAt, null);
      assert.equal(now.progress, null);
      assert.deepEqual(await store.logs(j.id), []);

      assert.notEqual(await store.finishAttempt(fence, { outcome: 'succeeded', result: { ok: true } }), null);
      // Repeating the same outcome may answer the job (a store may treat it as the retry of a call whose reply was
      // lost) but must change nothing; a different outcome is always refused (null).
      await store.finishAttempt(fence, { outcome: 'succeeded', result: 'twice' });
      assert.equal(
        await store.finishAttempt(fence, { outcome: 'error', error: err('late'), charged: true }),
        null,
      );
      await store.appendLogs([{ fence, ts: Date.now(), stream: 'log', line: 'after the end' }]);
      now = await mustGet(store, j.id);
      assert.equal(now.state, 'succeeded');
      assert.deepEqual(now.result, { ok: true });
      assert.equal(now.leaseOwner, null);
      assert.ok(now.finishedAt !== null);
      assert.deepEqual(await store.logs(j.id), []);
      assert.deepEqual((await store.renewLeases('w-fence', [fence], 1000)).lost, [fence]);
      const [att] = await store.attempts(j.id);
      assert.equal(att!.outcome, 'succeeded');
      assert.equal(att!.charged, true);
      assert.ok(att!.finishedAt !== null);
    });

    it('heartbeats, progress and lease renewal apply to the live attempt', async () => {
      const task = taskName('activity');
      const j = await enqueueOne(store, task);
      const { fence, job: claimed } = await claimOne(store, task, 'w-act', 5_000);
      await store.recordActivity([{ fence, heartbeatAt: 1111, progress: { fraction: 0.5, done: 1, total: 2, message: 'half' } }]);
      await store.recordActivity([{ fence, heartbeatAt: 2222 }]);
      const got = await mustGet(store, j.id);
      assert.equal(got.lastHeartbeatAt, 2222);
      assert.deepEqual(got.progress, { fraction: 0.5, done: 1, total: 2, message: 'half' });
      const r = await store.renewLeases('w-act', [fence], 60_000);
      assert.deepEqual(r, { lost: [], cancelRequested: [], snapshotRequested: [] });
      assert.ok((await mustGet(store, j.id)).leaseExpiresAt! > claimed.leaseExpiresAt! + 30_000);
      assert.deepEqual((await store.renewLeases('someone-else', [fence], 60_000)).lost, [fence], 'only the owner renews');
      assert.notEqual(await store.finishAttempt(fence, { outcome: 'succeeded', result: null }), null);
    });

    it('snapshot requests reach the lease holder at renewal; the fenced answer is stored and clears them', async () => {
      const task = taskName('snap');
      assert.equal(await store.requestSnapshot('999999999'), null, 'unknown job');
      const j = await enqueueOne(store, task);
      assert.deepEqual(await store.requestSnapshot(j.id), { state: 'queued', requestedAt: null }, 'a queued job is not stamped');
      const { fence } = await claimOne(store, task, 'w-snap', 60_000);
      assert.deepEqual((await store.renewLeases('w-snap', [fence], 60_000)).snapshotRequested, [], 'nothing asked yet');
      const asked = await store.requestSnapshot(j.id);
      assert.equal(asked?.state, 'running');
      const requestedAt = asked!.requestedAt!;
      assert.ok(requestedAt > 0);
      assert.deepEqual((await store.renewLeases('w-snap', [fence], 60_000)).snapshotRequested, [{ fence, requestedAt }]);
      const snap = { requestedAt, capturedAt: 5, elapsedMs: 6, captureMs: 7, lastHeartbeatAt: null, progress: null, logTail: ['x'], where: { notes: ['n'] } };
      assert.equal(await store.saveSnapshot({ ...fence, workerId: 'someone-else' }, snap), false, 'fenced');
      assert.equal((await store.attempts(j.id))[0]!.snapshot, null);
      // A newer request is not cleared by the answer to an older one.
      await new Promise((r) => setTimeout(r, 5));
      const newer = (await store.requestSnapshot(j.id))!.requestedAt!;
      assert.ok(newer > requestedAt);
      assert.equal(await store.saveSnapshot(fence, snap), true);
      assert.deepEqual((await store.attempts(j.id))[0]!.snapshot, snap);
      assert.deepEqual((await store.renewLeases('w-snap', [fence], 60_000)).snapshotRequested, [{ fence, requestedAt: newer }]);
      assert.equal(await store.saveSnapshot(fence, { ...snap, requestedAt: newer, capturedAt: 8 }), true);
      assert.equal((await store.attempts(j.id))[0]!.snapshot?.capturedAt, 8, 'the latest only');
      assert.deepEqual((await store.renewLeases('w-snap', [fence], 60_000)).snapshotRequested, [], 'answered: cleared');
      assert.notEqual(await store.finishAttempt(fence, { outcome: 'succeeded', result: null }), null);
      assert.equal(await store.saveSnapshot(fence, snap), false, 'the attempt is over');
      assert.deepEqual(await store.requestSnapshot(j.id), { state: 'succeeded', requestedAt: null });
    });

    it('a zombie whose lease expired and was recovered is rejected', async () => {
      const task = taskName('zombie');
      const j = await enqueueOne(store, task, { retry: policy(3, 0) });
      const { fence } = await claimOne(store, task, 'w-dead', 300);
      assert.deepEqual(await store.recoverExpired().then((js) => js.filter((x) => x.id === j.id)), [], 'lease still valid');
      const recovered = await waitUntil('the lease to expire and be recovered', async () => (await store.recoverExpired()).find((x) => x.id === j.id), 10_000, 25);
      assert.equal(recovered.state, 'queued');
      assert.equal(recovered.attempts, 1);
      assert.equal(recovered.chargedAttempts, 1);
      assert.equal(recovered.leaseOwner, null);
      assert.equal(recovered.error?.kind, 'crashed');
      const [att] = await store.attempts(j.id);
      assert.equal(att!.outcome, 'crashed');
      assert.equal(att!.charged, true);
      assert.equal(att!.error?.kind, 'crashed');
      assert.ok(att!.finishedAt !== null);

      assert.equal(await store.finishAttempt(fence, { outcome: 'succeeded', result: 'zombie' }), null);
      await store.appendLogs([{ fence, ts: Date.now(), stream: 'stdout', line: 'zombie' }]);
      await store.recordActivity([{ fence, heartbeatAt: 99 }]);
      assert.deepEqual((await store.renewLeases('w-dead', [fence], 30_000)).lost, [fence]);

      const second = await claimOne(store, task, 'w-alive');
      assert.equal(second.fence.attempt, 2);
      assert.equal(await store.finishAttempt(fence, { outcome: 'succeeded', result: 'zombie' }), null, 'attempt 1 cannot finish attempt 2');
      await store.appendLogs([{ fence, ts: Date.now(), stream: 'stdout', line: 'zombie' }]);
      await store.appendLogs([{ fence: second.fence, ts: Date.now(), stream: 'stdout', line: 'alive' }]);
      assert.deepEqual((await store.logs(j.id)).map((l) => [l.attempt, l.line]), [[2, 'alive']]);
      assert.notEqual(await store.finishAttempt(second.fence, { outcome: 'succeeded', result: 'ok' }), null);
      const done = await mustGet(store, j.id);
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, 'ok');
      assert.equal(done.lastHeartbeatAt, null);
    });

    it('recoverExpired fails the job once its attempts are exhausted', async () => {
      const task = taskName('recoverFail');
      const j = await enqueueOne(store, task, { retry: policy(1) });
      await claimOne(store, task, 'w-gone', 200);
      const rec = await waitUntil('recovery', async () => (await store.recoverExpired()).find((x) => x.id === j.id), 10_000, 25);
      assert.equal(rec.state, 'failed');
      assert.equal(rec.error?.kind, 'crashed');
      assert.ok(rec.finishedAt !== null);
    });

    it('a held attempt (claimed into a prefetch buffer, never started) is recovered uncharged, a bounded number of times', async () => {
      const task = taskName('held');
      // maxAttempts 1: a charged recovery fails the job, an uncharged one queues it again.
      const ids = (await store.enqueue([1, 2, 3].map(() => job(task, { retry: policy(1) })))).map((r) => r.job.id);
      const lease = 300;
      const claimed = await store.claim({ workerId: 'w-pre', leaseMs: lease, limit: 3, tasks: { [task]: 3 }, start: 1 });
      assert.deepEqual(claimed.map((c) => c.job.id), ids);
      // The worker hands the third job a slot (a renewal no longer lists it as held), then dies.
      await store.renewLeases('w-pre', claimed.map((c) => c.fence), lease, [claimed[1]!.fence]);
      const recoverAll = async (want: string[]): Promise<Map<string, Job>> => {
        const got = new Map<string, Job>();
        await waitUntil('the expired leases recovered', async () => {
          for (const j of await store.recoverExpired()) if (want.includes(j.id)) got.set(j.id, j);
          return got.size === want.length || undefined;
        }, 10_000, 25);
        return got;
      };
      const first = await recoverAll(ids);
      for (const started of [ids[0]!, ids[2]!]) {
        const j = first.get(started)!;
        assert.equal(j.state, 'failed', 'started (at the claim, or by the renewal): the crash is charged');
        assert.equal(j.chargedAttempts, 1);
      }
      const held = first.get(ids[1]!)!;
      assert.equal(held.state, 'queued', 'never started: not charged');
      assert.equal(held.chargedAttempts, 0);
      assert.match(held.error?.message ?? '', /prefetch buffer and never started/);
      assert.equal((await store.attempts(held.id))[0]?.charged, false);
      // A start is recorded only at the next renewal, so "held" may be wrong for a job that took its worker down
      // with it: after HELD_RECOVERIES_MAX free recoveries the next one is charged.
      for (let k = 1; k <= HELD_RECOVERIES_MAX; k++) {
        const [again] = await store.claim({ workerId: `w-pre${k}`, leaseMs: lease, limit: 1, tasks: { [task]: 1 }, start: 0 });
        assert.equal(again?.job.id, held.id);
        const j = (await recoverAll([held.id])).get(held.id)!;
        if (k < HELD_RECOVERIES_MAX) assert.equal(j.state, 'queued', `free recovery ${k + 1} of ${HELD_RECOVERIES_MAX}`);
        else {
          assert.equal(j.state, 'failed', 'the allowance is spent: charged');
          assert.equal(j.chargedAttempts, 1);
        }
      }
      // retry() gives a fresh budget, the allowance included.
      await store.retry(held.id);
      const [fresh] = await store.claim({ workerId: 'w-pre-retried', leaseMs: lease, limit: 1, tasks: { [task]: 1 }, start: 0 });
      assert.equal(fresh?.job.id, held.id);
      assert.equal((await recoverAll([held.id])).get(held.id)!.state, 'queued', 'held after retry(): free again');
    });

    it('recoverExpired delays the retry with the job\'s own retry policy', async () => {
      const task = taskName('recoverDelay');
      const j = await enqueueOne(store, task, { retry: { maxAttempts: 3, backoffMs: 60_000, factor: 2, maxDelayMs: 120_000, jitter: 0 } });
      await claimOne(store, task, 'w-gone', 200);
      const rec = await waitUntil('recovery', async () => (await store.recoverExpired()).find((x) => x.id === j.id), 10_000, 25);
      const now = await store.now();
      assert.equal(rec.state, 'queued');
      assert.ok(rec.runAt >= now + 55_000 && rec.runAt <= now + 61_000, `runAt ${rec.runAt - now} ms from now`);
      assert.deepEqual(await store.claim({ workerId: 'w', leaseMs: 1000, limit: 1, tasks: { [task]: 1 } }), []);
    });

    it('a failure re-queues after the stored policy\'s delay; nextRunAt tells when', async () => {
      const task = taskName('retryDelay');
      const j = await enqueueOne(store, task, { retry: { maxAttempts: 3, backoffMs: 60_000, factor: 2, maxDelayMs: 120_000, jitter: 0 } });
      const { fence } = await claimOne(store, task);
      assert.equal(await store.nextRunAt([task]), null);
      const before = await store.now();
      assert.notEqual(await store.finishAttempt(fence, { outcome: 'error', error: err('boom'), charged: true }), null);
      const q = await mustGet(store, j.id);
      assert.equal(q.state, 'queued');
      assert.equal(q.attempts, 1);
      assert.equal(q.chargedAttempts, 1);
      assert.equal(q.leaseOwner, null);
      assert.ok(q.runAt >= before + 60_000 && q.runAt <= before + 65_000);
      assert.equal(q.error?.message, 'boom');
      assert.deepEqual(await store.claim({ workerId: 'w', leaseMs: 1000, limit: 1, tasks: { [task]: 1 } }), []);
      assert.equal(await store.nextRunAt([task]), q.runAt);
      const [att] = await store.attempts(j.id);
      assert.equal(att!.outcome, 'error');
      assert.deepEqual(att!.error, err('boom'));
    });

    it('nextRunAt is the earliest queued runAt of the given tasks', async () => {
      const a = taskName('nextA');
      const b = taskName('nextB');
      assert.equal(await store.nextRunAt([a, b]), null);
      assert.equal(await store.nextRunAt([]), null);
      const ja = await enqueueOne(store, a, { delayMs: 50_000 });
      const jb = await enqueueOne(store, b, { delayMs: 20_000 });
      assert.equal(await store.nextRunAt([a]), ja.runAt);
      assert.equal(await store.nextRunAt([a, b]), jb.runAt);
      await store.cancel([jb.id], 'test');
      assert.equal(await store.nextRunAt([a, b]), ja.runAt, 'only queued jobs count');
    });

    it('nextRunAt is the earliest over every priority of a task', async () => {
      const t = taskName('nextPrio');
      const high = await enqueueOne(store, t, { priority: 10, delayMs: 30_000 });
      await enqueueOne(store, t, { priority: 5, delayMs: 60_000 });
      assert.equal(await store.nextRunAt([t]), high.runAt, 'the earliest of two priorities');
      const low = await enqueueOne(store, t, { priority: -3 });
      const soon = await enqueueOne(store, t, { priority: -3, delayMs: 10_000 });
      assert.equal(await store.nextRunAt([t]), low.runAt, 'a lower priority due earlier counts');
      const claimed = await claimOne(store, t);
      assert.equal(claimed.job.id, low.id, 'the one due job is claimed');
      assert.equal(await store.nextRunAt([t]), soon.runAt, 'after the claim: the earliest left, whatever its priority');
    });

    it('a retry that would start after the deadline fails the job with kind deadline', async () => {
      const task = taskName('deadlineRetry');
      const j = await enqueueOne(store, task, { deadlineMs: 30_000, retry: { maxAttempts: 3, backoffMs: 60_000, factor: 2, maxDelayMs: 120_000, jitter: 0 } });
      assert.ok(j.deadlineAt !== null && j.deadlineAt >= j.createdAt + 30_000 - 1);
      const { fence } = await claimOne(store, task);
      assert.notEqual(await store.finishAttempt(fence, { outcome: 'timeout', error: err('too slow', 'timeout'), charged: true }), null);
      const f = await mustGet(store, j.id);
      assert.equal(f.state, 'failed');
      assert.equal(f.error?.kind, 'deadline');
      assert.ok(f.finishedAt !== null);
      const [att] = await store.attempts(j.id);
      assert.equal(att!.outcome, 'timeout', 'the attempt keeps its own outcome');
    });

    it('every outcome × retries left × deadline × cancel requested × charged ends as nextState() decides', async () => {
      const task = taskName('outcomes');
      const kinds = ['succeeded', 'error', 'timeout', 'stalled', 'crashed', 'oom', 'cancelled', 'deadline', 'children', 'nonRetryable'] as const;
      // Deadlines relative to the claim: far; 30 s (after now, before the 60 s retry); passed (1.5 s, waited out).
      const deadlines = { none: null, far: 3_600_000, wouldPassBeforeRetry: 30_000, passed: 1_500 } as const;
      const policyOf = (maxAttempts: number): RetryPolicy => ({ maxAttempts, backoffMs: 60_000, factor: 2, maxDelayMs: 600_000, jitter: 0 });
      type Case = { kind: (typeof kinds)[number]; maxAttempts: number; deadline: keyof typeof deadlines; cancel: boolean; charged: boolean };
      const cases: Case[] = [];
      for (const kind of kinds)
        for (const maxAttempts of [3, 1])
          for (const deadline of Object.keys(deadlines) as Array<keyof typeof deadlines>)
            for (const cancel of [false, true]) for (const charged of [true, false]) cases.push({ kind, maxAttempts, deadline, cancel, charged });
      const res = await store.enqueue(cases.map((c, i) => job(task, { input: i, retry: policyOf(c.maxAttempts), deadlineMs: deadlines[c.deadline] })));
      const claimed = await store.claim({ workerId: 'w-outcomes', leaseMs: 120_000, limit: cases.length, tasks: { [task]: cases.length } });
      assert.equal(claimed.length, cases.length, 'every case claimed before its deadline');
      const fenceOf = new Map(claimed.map((c) => [c.job.id, c.fence]));
      await store.cancel(res.filter((_, i) => cases[i]!.cancel).map((r) => r.job.id), 'stop it');
      const lastDeadline = Math.max(...res.filter((_, i) => cases[i]!.deadline === 'passed').map((r) => r.job.deadlineAt!));
      await waitUntil('the short deadlines to pass on the store clock', async () => (await store.now()) > lastDeadline, 10_000, 50);

      for (const [i, c] of cases.entries()) {
        const id = res[i]!.job.id;
        const label = JSON.stringify(c);
        const finish: AttemptFinish =
          c.kind === 'succeeded'
            ? { outcome: 'succeeded', result: { i } }
            : {
                outcome: c.kind === 'nonRetryable' ? 'error' : c.kind,
                error: { ...err(`case ${i}`, c.kind === 'nonRetryable' ? 'error' : c.kind), ...(c.kind === 'nonRetryable' ? { retryable: false } : {}) },
                charged: c.charged,
              };
        const beforeRow = await mustGet(store, id);
        const t0 = await store.now();
        const after = await store.finishAttempt(fenceOf.get(id)!, finish);
        const t1 = await store.now();
        const facts = { chargedAttempts: beforeRow.chargedAttempts, deadlineAt: beforeRow.deadlineAt, cancelRequested: beforeRow.cancelRequested, cancelReason: 'stop it' };
        const want = nextState(facts, finish, policyOf(c.maxAttempts), t0);
        assert.ok(after, `${label}: recorded`);
        assert.deepEqual(await mustGet(store, id), after, `${label}: finishAttempt returns the stored job`);
        assert.equal(after.state, want.state, `${label}: state`);
        assert.equal(after.error?.kind ?? null, want.error?.kind ?? null, `${label}: error kind`);
        assert.deepEqual(after.error, want.error?.kind === 'deadline' ? { ...want.error, message: after.error!.message } : want.error, `${label}: job error`);
        assert.equal(after.chargedAttempts, want.chargedAttempts, `${label}: charged attempts`);
        assert.deepEqual(after.result, want.result, `${label}: result`);
        assert.equal(after.leaseOwner, null);
        assert.equal(after.finishedAt === null, want.state === 'queued', `${label}: finishedAt only when terminal`);
        if (want.state === 'queued') {
          const delay = want.runAt! - t0;
          assert.ok(after.runAt >= t0 + delay && after.runAt <= t1 + delay, `${label}: runAt ${after.runAt - t0} ms after now, want ${delay}`);
        }
        const [att] = await store.attempts(id);
        assert.equal(att!.outcome, finish.outcome, `${label}: the attempt keeps its own outcome`);
        assert.equal(att!.charged, want.charged, `${label}: attempt charged`);
      }
    });

    it('sweeps are bounded: a backlog of 5,000 expired leases or deadlines is taken 500 per call', async () => {
      const BACKLOG = 5_000;
      const BATCH = 500;
      const leases = taskName('expiredLeases');
      await store.enqueue(Array.from({ length: BACKLOG }, (_, i) => job(leases, { input: i, retry: policy(1) })));
      const claimed = await store.claim({ workerId: 'w-froze', leaseMs: 1, limit: BACKLOG, tasks: { [leases]: BACKLOG } });
      assert.equal(claimed.length, BACKLOG);
      const lastExpiry = Math.max(...claimed.map((c) => c.job.leaseExpiresAt!));
      await waitUntil('the leases to expire', async () => (await store.now()) > lastExpiry, 10_000, 20);
      let recovered = 0;
      let calls = 0;
      let slowestMs = 0;
      for (;;) {
        const t = performance.now();
        const got = await store.recoverExpired();
        slowestMs = Math.max(slowestMs, performance.now() - t);
        if (got.length === 0) break;
        calls++;
        assert.ok(got.length <= BATCH, `one recovery took ${got.length} leases`);
        if (calls === 1) assert.equal(got.length, BATCH, 'the first call takes a full batch');
        recovered += got.filter((j) => j.task === leases).length;
      }
      assert.equal(recovered, BACKLOG);
      assert.ok(calls >= BACKLOG / BATCH);
      console.log(`[${factory.name}] ${BACKLOG} expired leases: ${calls} recoveries, slowest ${slowestMs.toFixed(0)} ms`);

      const deadlines = taskName('expiredDeadlines');
      const queued = await store.enqueue(Array.from({ length: BACKLOG }, (_, i) => job(deadlines, { input: i, deadlineMs: 1 })));
      const lastDeadline = Math.max(...queued.map((r) => r.job.deadlineAt!));
      await waitUntil('the deadlines to pass', async () => (await store.now()) > lastDeadline, 10_000, 20);
      const fresh = await enqueueOne(store, deadlines);
      const failedCount = async (): Promise<number> => (await store.list({ task: deadlines, state: 'failed', limit: 10_000 })).length;
      let t = performance.now();
      const first = await store.claim({ workerId: 'w-deadline', leaseMs: 30_000, limit: 1, tasks: { [deadlines]: 1 } });
      slowestMs = performance.now() - t;
      assert.deepEqual(first.map((c) => c.job.id), [fresh.id], 'the live job is claimed, no expired one ever is');
      assert.equal(await failedCount(), BATCH, 'one claim fails one batch of expired jobs');
      for (let i = 0; i < BACKLOG / BATCH; i++) {
        t = performance.now();
        assert.deepEqual(await store.claim({ workerId: 'w-deadline', leaseMs: 30_000, limit: 1, tasks: { [deadlines]: 1 } }), []);
        slowestMs = Math.max(slowestMs, performance.now() - t);
      }
      assert.equal(await failedCount(), BACKLOG);
      assert.equal((await store.list({ task: deadlines, state: 'queued' })).length, 0);
      console.log(`[${factory.name}] ${BACKLOG} expired deadlines: slowest claim ${slowestMs.toFixed(0)} ms`);
    });

    it('claim fails jobs whose deadline passed instead of running them', async () => {
      const task = taskName('deadlineClaim');
      const events: StoreEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      try {
        const j = await enqueueOne(store, task, { deadlineMs: 50 });
        const ok = await enqueueOne(store, task);
        await waitUntil('the deadline to pass', async () => (await store.now()) > j.deadlineAt!, 5_000);
        const claimed = await store.claim({ workerId: 'w', leaseMs: 1000, limit: 5, tasks: { [task]: 5 } });
        assert.deepEqual(claimed.map((c) => c.job.id), [ok.id]);
        const f = await mustGet(store, j.id);
        assert.equal(f.state, 'failed');
        assert.equal(f.error?.kind, 'deadline');
        assert.equal(f.attempts, 0);
        await waitUntil('the finished event', () => events.some((e) => e.type === 'finished' && e.jobId === j.id && e.state === 'failed'));
      } finally {
        off();
      }
    });

    it('uncharged attempts do not count against the budget; final failures keep the error', async () => {
      const task = taskName('charged');
      const j = await enqueueOne(store, task, { retry: policy(2) });
      const a1 = await claimOne(store, task);
      assert.notEqual(await store.finishAttempt(a1.fence, { outcome: 'crashed', error: err('host lost', 'crashed'), charged: false }), null);
      let got = await mustGet(store, j.id);
      assert.equal(got.state, 'queued');
      assert.equal(got.attempts, 1);
      assert.equal(got.chargedAttempts, 0);
      const a2 = await claimOne(store, task);
      assert.equal(a2.fence.attempt, 2);
      const final: SerializedError = { ...err('bad input'), code: 'E_BAD', retryable: false, cause: { message: 'root cause' }, details: { exitCode: 3 } };
      assert.notEqual(await store.finishAttempt(a2.fence, { outcome: 'error', error: final, charged: true }), null);
      got = await mustGet(store, j.id);
      assert.equal(got.state, 'failed');
      assert.equal(got.attempts, 2);
      assert.equal(got.chargedAttempts, 1);
      assert.deepEqual(got.error, final);
      const atts = await store.attempts(j.id);
      assert.deepEqual(atts.map((a) => [a.attempt, a.outcome, a.charged]), [[1, 'crashed', false], [2, 'error', true]]);
    });

    it('an attempt ending cancelled leaves the job cancelled', async () => {
      const task = taskName('endCancelled');
      const j = await enqueueOne(store, task);
      const { fence } = await claimOne(store, task);
      assert.notEqual(await store.finishAttempt(fence, { outcome: 'cancelled', error: err('stop', 'cancelled'), charged: true }), null);
      const got = await mustGet(store, j.id);
      assert.equal(got.state, 'cancelled');
      assert.equal(got.error?.kind, 'cancelled');
    });

    it('attempts keep their hang report', async () => {
      const task = taskName('hang');
      const j = await enqueueOne(store, task);
      const { fence } = await claimOne(store, task);
      const report: HangReport = {
        kind: 'timeout',
        capturedAt: 1700000000000,
        elapsedMs: 5000,
        captureMs: 12,
        lastHeartbeatAt: null,
        progress: { fraction: 0.25, message: 'reading' },
        logTail: ['line 1', 'line ✓ 2'],
        where: {
          stack: [{ functionName: 'spin', file: '/app/tasks.ts', line: 10, column: 5 }],
          pendingResources: [{ type: 'Timeout', description: 'setTimeout 1h' }],
          processes: [{ pid: 42, ppid: 1, command: 'cat', state: 'S', wchan: 'pipe_read', blockedOn: 'stdin pipe' }],
          notes: ['paused via inspector'],
        },
      };
      await store.finishAttempt(fence, { outcome: 'timeout', error: err('timed out', 'timeout'), hangReport: report, charged: true });
      const [att] = await store.attempts(j.id);
      assert.deepEqual(att!.hangReport, report);
      assert.deepEqual(att!.error, err('timed out', 'timeout'));
      assert.deepEqual(await store.attempts('999999999'), []);
    });

    it('cancel: queued at once, running flagged, whole subtree, terminal untouched', async () => {
      const task = taskName('cancel');
      const events: StoreEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      try {
        // P (running) ─┬─ B (running)
        //              ├─ D (succeeded)
        //              └─ A (queued) ── G (queued)
        const p = await enqueueOne(store, task);
        const { fence: pf } = await claimOne(store, task, 'w-cancel');
        const b = await enqueueOne(store, task, { parentId: p.id, childKey: 'b' });
        const { fence: bf } = await claimOne(store, task, 'w-cancel');
        assert.equal(bf.jobId, b.id);
        const d = await enqueueOne(store, task, { parentId: p.id, childKey: 'd' });
        const { fence: df } = await claimOne(store, task, 'w-cancel');
        assert.equal(df.jobId, d.id);
        await store.finishAttempt(df, { outcome: 'succeeded', result: 1 });
        const a = await enqueueOne(store, task, { parentId: p.id, childKey: 'a' });
        const g = await enqueueOne(store, task, { parentId: a.id, childKey: 'g' });

        const result = await store.cancel([p.id, '999999999', 'bogus'], 'user asked');
        assert.deepEqual(result.map((j) => j.id), [p.id], 'only the jobs named, missing omitted');
        assert.equal(result[0]!.state, 'running');
        assert.equal(result[0]!.cancelRequested, true);
        const [ja, jb, jd, jg] = await store.getMany([a.id, b.id, d.id, g.id]);
        for (const j of [ja!, jg!]) {
          assert.equal(j.state, 'cancelled', `queued job ${j.id} is cancelled at once`);
          assert.equal(j.error?.kind, 'cancelled');
          assert.ok(j.finishedAt !== null);
        }
        assert.equal(jb!.state, 'running');
        assert.equal(jb!.cancelRequested, true);
        assert.equal(jd!.state, 'succeeded', 'terminal jobs are left as they are');
        assert.equal(jd!.cancelRequested, false);

        const renew = await store.renewLeases('w-cancel', [pf, bf], 30_000);
        assert.deepEqual(renew.lost, []);
        assert.deepEqual(renew.cancelRequested.map((f) => f.jobId).sort(), [pf.jobId, bf.jobId].sort());
        await waitUntil('the cancelRequested event', () => {
          const ids = events.flatMap((e) => (e.type === 'cancelRequested' ? e.jobIds : []));
          return ids.includes(p.id) && ids.includes(b.id);
        });
        await waitUntil('finished events of the queued ones', () =>
          [a.id, g.id].every((id) => events.some((e) => e.type === 'finished' && e.jobId === id && e.state === 'cancelled')),
        );
        await store.finishAttempt(bf, { outcome: 'cancelled', error: err('user asked', 'cancelled'), charged: true });
        assert.equal((await mustGet(store, b.id)).state, 'cancelled');
        const again = await store.cancel([b.id], 'again');
        assert.equal(again[0]!.state, 'cancelled');
        assert.deepEqual(await store.cancel([], 'nothing'), []);
      } finally {
        off();
      }
    });

    it('retry() gives a failed or cancelled job a fresh budget; other states are refused', async () => {
      const task = taskName('retry');
      const j = await enqueueOne(store, task, { retry: policy(1) });
      const { fence } = await claimOne(store, task);
      await store.finishAttempt(fence, { outcome: 'error', error: err('nope'), charged: true });
      assert.equal((await mustGet(store, j.id)).state, 'failed');
      const r = await store.retry(j.id);
      assert.equal(r.state, 'queued');
      assert.equal(r.chargedAttempts, 0);
      assert.equal(r.error, null);
      assert.equal(r.finishedAt, null);
      const again = await claimOne(store, task);
      assert.equal(again.fence.attempt, 2, 'attempt numbers keep growing');
      await assert.rejects(store.retry(j.id), (e: { code?: string }) => e.code === 'VIGIL_INVALID_STATE');
      await store.finishAttempt(again.fence, { outcome: 'succeeded', result: 2 });
      await assert.rejects(store.retry(j.id), (e: { code?: string }) => e.code === 'VIGIL_INVALID_STATE');
      await assert.rejects(store.retry('999999999'), (e: { code?: string }) => e.code === 'VIGIL_JOB_NOT_FOUND');

      const c = await enqueueOne(store, task);
      await store.cancel([c.id], 'x');
      assert.equal((await store.retry(c.id)).state, 'queued');
    });

    it('logs: per-job increasing seq, paging, tail, attempt filter, long lines cut', async () => {
      const task = taskName('logs');
      const j = await enqueueOne(store, task);
      const other = await enqueueOne(store, task);
      const [c1, c2] = await store.claim({ workerId: 'w-log', leaseMs: 30_000, limit: 2, tasks: { [task]: 2 } });
      const f = c1!.job.id === j.id ? c1!.fence : c2!.fence;
      const g = c1!.job.id === j.id ? c2!.fence : c1!.fence;
      const ts = Date.now();
      await store.appendLogs([
        { fence: f, ts, stream: 'stdout', line: 'one' },
        { fence: g, ts, stream: 'stdout', line: 'other-1' },
        { fence: f, ts: ts + 1, stream: 'stderr', line: 'two' },
      ]);
      await store.appendLogs([{ fence: f, ts: ts + 2, stream: 'log', line: 'three' }, { fence: f, ts: ts + 3, stream: 'system', line: '' }]);
      const all = await store.logs(j.id);
      assert.deepEqual(all.map((l) => [l.seq, l.stream, l.line]), [[1, 'stdout', 'one'], [2, 'stderr', 'two'], [3, 'log', 'three'], [4, 'system', '']]);
      assert.equal(all[0]!.jobId, j.id);
      assert.equal(all[0]!.attempt, 1);
      assert.equal(all[0]!.ts, ts);
      assert.deepEqual((await store.logs(other.id)).map((l) => [l.seq, l.line]), [[1, 'other-1']]);
      assert.deepEqual((await store.logs(j.id, { afterSeq: 2 })).map((l) => l.seq), [3, 4]);
      assert.deepEqual((await store.logs(j.id, { limit: 2 })).map((l) => l.seq), [1, 2]);
      assert.deepEqual((await store.logs(j.id, { tail: true, limit: 2 })).map((l) => l.seq), [3, 4], 'tail: the last lines, in order');

      await store.finishAttempt(f, { outcome: 'error', error: err('e'), charged: true });
      const second = await claimOne(store, task, 'w-log');
      assert.equal(second.job.id, j.id);
      const long = 'é'.repeat(10_000); // 20,000 bytes of UTF-8
      await store.appendLogs([{ fence: second.fence, ts, stream: 'stdout', line: 'attempt two' }, { fence: second.fence, ts, stream: 'stdout', line: long }]);
      const a2 = await store.logs(j.id, { attempt: 2 });
      assert.deepEqual(a2.map((l) => l.seq), [5, 6], 'seq continues across attempts');
      const cut = a2[1]!.line;
      assert.ok(Buffer.byteLength(cut, 'utf8') <= 8 * 1024, `cut line is ${Buffer.byteLength(cut)} bytes`);
      assert.match(cut, /…\[cut \d+ bytes\]$/);
      assert.ok(!cut.includes('\uFFFD'), 'no character split in half');
      const n = Number(/cut (\d+) bytes/.exec(cut)![1]);
      assert.equal(Buffer.byteLength(cut.slice(0, cut.indexOf('…[cut')), 'utf8') + n, 20_000);
      assert.deepEqual((await store.logs(j.id, { attempt: 1 })).map((l) => l.seq), [1, 2, 3, 4]);
      assert.deepEqual(await store.logs('999999999'), []);
    });

    it('counts jobs by state', async () => {
      const task = taskName('counts');
      const before = await store.counts();
      assert.deepEqual(Object.keys(before).sort(), ['cancelled', 'failed', 'queued', 'running', 'succeeded']);
      const [a, b, c] = (await store.enqueue([job(task), job(task), job(task)])).map((r) => r.job) as [Job, Job, Job];
      const { fence } = await claimOne(store, task);
      await store.finishAttempt(fence, { outcome: 'succeeded', result: null });
      await claimOne(store, task);
      await store.cancel([c.id], 'x');
      void a;
      void b;
      const after = await store.counts();
      assert.equal(after.queued - before.queued, 0);
      assert.equal(after.running - before.running, 1);
      assert.equal(after.succeeded - before.succeeded, 1);
      assert.equal(after.cancelled - before.cancelled, 1);
      assert.equal(after.failed - before.failed, 0);
    });

    it("a child's deadline is never later than its parent's (one deadline bounds a tree)", async () => {
      const task = taskName('treedl');
      const parent = await enqueueOne(store, task, { deadlineMs: 60_000 });
      const [late, none, early] = await store.enqueue([
        job(task, { parentId: parent.id, childKey: 'late', deadlineMs: 3_600_000 }),
        job(task, { parentId: parent.id, childKey: 'none' }),
        job(task, { parentId: parent.id, childKey: 'early', deadlineMs: 1_000 }),
      ]);
      assert.equal(late!.job.deadlineAt, parent.deadlineAt);
      assert.equal(none!.job.deadlineAt, parent.deadlineAt);
      assert.ok(early!.job.deadlineAt! < parent.deadlineAt!, 'an earlier own deadline stays');
    });

    it('workers and tasks registry', async () => {
      const w = `worker-${RUN}`;
      const t1 = taskName('reg');
      await store.registerWorker({ workerId: w, hostname: 'host-a', pid: 1234, concurrency: 4, tasks: [{ name: t1, options: { timeoutMs: 1000 } }] });
      let workers = (await store.listWorkers()).filter((x) => x.workerId === w);
      assert.equal(workers.length, 1);
      assert.equal(workers[0]!.hostname, 'host-a');
      assert.equal(workers[0]!.pid, 1234);
      assert.equal(workers[0]!.concurrency, 4);
      assert.ok(workers[0]!.startedAt > 0 && workers[0]!.lastSeenAt >= workers[0]!.startedAt);
      await store.workerHeartbeat(w, { running: 2, loopDelayMs: 1.5 });
      workers = (await store.listWorkers()).filter((x) => x.workerId === w);
      assert.deepEqual(workers[0]!.stats, { running: 2, loopDelayMs: 1.5 });
      assert.deepEqual(workers[0]!.tasks, [t1], 'the tasks it serves (vigil why), kept across heartbeats');
      let known = (await store.knownTasks()).find((t) => t.name === t1);
      assert.deepEqual(known?.options, { timeoutMs: 1000 });
      await store.registerWorker({ workerId: `${w}-2`, hostname: 'host-b', pid: 5, concurrency: 1, tasks: [{ name: t1, options: { timeoutMs: 2000 } }] });
      known = (await store.knownTasks()).find((t) => t.name === t1);
      assert.deepEqual(known?.options, { timeoutMs: 2000 }, 'the most recent definition wins');
      assert.ok(known!.updatedAt > 0);
      await store.unregisterWorker(w);
      await store.unregisterWorker(`${w}-2`);
      assert.deepEqual((await store.listWorkers()).filter((x) => x.workerId.startsWith(w)), []);
    });

    it('subscribe delivers enqueued and finished events; unsubscribe stops them', async () => {
      const task = taskName('events');
      const events: StoreEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      let offCalled = false;
      try {
        const parent = await enqueueOne(store, task);
        await waitUntil('enqueued', () => events.some((e) => e.type === 'enqueued' && e.tasks.includes(task)));
        const { fence } = await claimOne(store, task);
        const [kid] = await store.enqueue([job(task, { parentId: parent.id, childKey: 'k' })]);
        await store.finishAttempt(fence, { outcome: 'succeeded', result: null });
        await waitUntil('finished', () =>
          events.some((e) => e.type === 'finished' && e.jobId === parent.id && e.state === 'succeeded' && e.parentId === null),
        );
        await store.cancel([kid!.job.id], 'x');
        await waitUntil('finished (cancelled child, with its parent id)', () =>
          events.some((e) => e.type === 'finished' && e.jobId === kid!.job.id && e.state === 'cancelled' && e.parentId === parent.id),
        );
        off();
        offCalled = true;
        const count = events.length;
        const marker = taskName('after-off');
        const sentinel: StoreEvent[] = [];
        const off2 = store.subscribe((e) => sentinel.push(e));
        await enqueueOne(store, marker);
        await waitUntil('the sentinel to see the enqueue', () => sentinel.some((e) => e.type === 'enqueued' && e.tasks.includes(marker)));
        off2();
        assert.equal(events.length, count, 'no events after unsubscribe');
      } finally {
        if (!offCalled) off();
      }
    });

    it('a closed store refuses calls with VIGIL_CLOSED', async () => {
      const s = await loc.open();
      await s.close();
      await s.close();
      await assert.rejects(s.get('1'), (e: { code?: string }) => e.code === 'VIGIL_CLOSED');
      const disposed = await loc.open();
      await disposed[Symbol.asyncDispose]();
      await assert.rejects(disposed.get('1'), (e: { code?: string }) => e.code === 'VIGIL_CLOSED', 'Symbol.asyncDispose closes the store');
    });
  });
}
