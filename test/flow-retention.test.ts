import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FinishedState, Store } from '../src/store/contract.js';
import { defineTask } from '../src/index.js';
import { RetentionSweeper, taskKeepsOf } from '../src/engine/retention.js';
import type { TaskMap } from '../src/task/registry.js';
import { storeFactories, type StoreLocation } from './helpers/stores.js';
import { assertResponsive, describeRun, fileSize, retentionRun, seedFinishedJobs } from './helpers/retention.js';
import { runCli } from './helpers/cli.js';
import { openStore } from '../src/store/open.js';

const RETRY = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };

/** Runs one job to the given end through the store's own claim/finish path. */
async function finish(store: Store, id: string, outcome: FinishedState | 'leave-running'): Promise<void> {
  const [c] = await store.claim({ workerId: 'w', leaseMs: 60_000, limit: 1, tasks: { t: 1, other: 1 }, rootJobId: id });
  assert.ok(c && c.job.id === id, `claimed ${id}`);
  await store.appendLogs([{ fence: c.fence, ts: Date.now(), stream: 'stdout', line: `log of ${id}` }]);
  if (outcome === 'leave-running') return;
  if (outcome === 'succeeded') await store.finishAttempt(c.fence, { outcome: 'succeeded', result: 1 });
  else await store.finishAttempt(c.fence, { outcome: outcome === 'cancelled' ? 'cancelled' : 'error', error: { kind: outcome === 'cancelled' ? 'cancelled' : 'error', message: 'x' }, charged: true, retryInMs: null });
}

for (const factory of storeFactories()) {
  describe(`retention on ${factory.name}`, { skip: factory.skip || undefined }, () => {
    const locations: StoreLocation[] = [];
    after(async () => {
      for (const l of locations) await l.cleanup();
    });
    async function fresh(): Promise<Store> {
      const loc = await factory.create();
      locations.push(loc);
      return loc.open();
    }

    it('a parent is pruned with its children, never a child before its parent; dry run changes nothing', async () => {
      const store = await fresh();
      const [p1, p2, p3] = (await store.enqueue([0, 1, 2].map(() => ({ task: 't', input: null, retry: RETRY })))).map((r) => r.job.id);
      const kids = (await store.enqueue([p1, p1, p2, p3].map((parentId, i) => ({ task: 't', input: null, retry: RETRY, parentId, childKey: `k${i}` })))).map((r) => r.job.id);
      for (const k of kids.slice(0, 3)) await finish(store, k!, 'succeeded');
      await finish(store, kids[3]!, 'leave-running'); // p3's child still runs
      await finish(store, p1!, 'succeeded');
      await finish(store, p2!, 'failed');
      await finish(store, p3!, 'succeeded');
      const cutoff = (await store.now()) + 1;
      const dry = await store.prune({ finishedBefore: cutoff, states: ['succeeded', 'failed'], limit: 100, dryRun: true });
      assert.equal(dry.count, 5, 'p1 + 2 children, p2 + 1 child (p3 has a running child)');
      assert.equal((await store.list({ limit: 100 })).length, 7, 'dry run deleted nothing');
      // Only succeeded: p2 (failed) keeps its succeeded child — a child never goes before its parent.
      assert.deepEqual(await store.prune({ finishedBefore: cutoff, states: ['succeeded'], limit: 100 }), { count: 3, more: false });
      const left = (await store.list({ limit: 100 })).map((j) => j.id).sort();
      assert.deepEqual(left, [p2, p3, kids[2], kids[3]].sort());
      assert.equal((await store.attempts(p1!)).length, 0, 'attempts went with the job');
      assert.equal((await store.logs(kids[0]!)).length, 0, 'logs went with the job');
      // Batches: limit 1 reports more.
      await store.enqueue([{ task: 't', input: null, retry: RETRY }, { task: 't', input: null, retry: RETRY }]).then(async (rs) => {
        for (const r of rs) await finish(store, r.job.id, 'cancelled');
      });
      const first = await store.prune({ finishedBefore: (await store.now()) + 1, states: ['cancelled'], limit: 1 });
      assert.deepEqual(first, { count: 1, more: true });
      assert.deepEqual(await store.prune({ finishedBefore: (await store.now()) + 1, states: ['cancelled'], limit: 1 }), { count: 1, more: false });
    });

    it('per-task keep wins over the global one; logs are pruned on their own', async () => {
      const store = await fresh();
      const ids = (await store.enqueue([{ task: 't', input: null, retry: RETRY }, { task: 'other', input: null, retry: RETRY }])).map((r) => r.job.id);
      for (const id of ids) await finish(store, id!, 'succeeded');
      const t = defineTask({ name: 't', keep: { succeeded: '1h' }, run: () => null });
      const other = defineTask({ name: 'other', run: () => null });
      const tasks: TaskMap = new Map<string, typeof t>([['t', t], ['other', other]]);
      const taskKeeps = taskKeepsOf(tasks);
      let now = (await store.now()) + 10 * 60_000; // ten minutes later
      const sweeper = new RetentionSweeper({ store, taskKeeps, keep: { succeededMs: 5 * 60_000, failedMs: null, cancelledMs: null, logsMs: 60_000 }, clock: async () => now });
      assert.deepEqual(await sweeper.sweep(), { jobs: 1, logs: 1 }, "global 5m deletes 'other'; 't' keeps 1h but its logs go after 1m");
      assert.deepEqual((await store.list({})).map((j) => j.id), [ids[0]]);
      assert.equal((await store.logs(ids[0]!)).length, 0);
      now += 60 * 60_000;
      assert.deepEqual(await sweeper.sweep(), { jobs: 1, logs: 0 });
    });
  });
}

describe('retention on SQLite: the supervisor stays responsive and the file shrinks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-retention-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('10,000 finished jobs swept by a worker: event-loop delay under 50 ms, the file shrinks', { timeout: 300_000 }, async () => {
    const r = await retentionRun(join(dir, 'sweep.db'), 5_000);
    console.log(`retention: ${describeRun(10_000, r)}`);
    assertResponsive(r);
    assert.ok(r.afterSize < r.before / 2, `the file shrank: ${r.before} → ${r.afterSize}`);
  });

  it('vigil prune --dry-run changes nothing; vigil prune deletes, --vacuum shrinks the file', { timeout: 120_000 }, async () => {
    const path = join(dir, 'cli.db');
    // Created by a writer (read-only commands such as `jobs` never create a store).
    await (await openStore(`sqlite:${path}`)).close();
    seedFinishedJobs(path, 1_000);
    const before = fileSize(path);
    const dry = await runCli(['prune', '--older-than', '1d', '--dry-run', '--json', '--store', `sqlite:${path}`]);
    assert.equal(dry.code, 0, dry.output);
    assert.deepEqual(JSON.parse(dry.output), { jobs: 2_000, logs: 0, dryRun: true });
    const still = await runCli(['jobs', '--state', 'succeeded', '--limit', '100000', '--json', '--store', `sqlite:${path}`]);
    assert.equal((JSON.parse(still.output) as unknown[]).length, 2_000, 'dry run deleted nothing');
    const none = await runCli(['prune', '--older-than', '3d', '--json', '--store', `sqlite:${path}`]);
    assert.equal(JSON.parse(none.output).jobs, 0, 'nothing is older than 3 days');
    const real = await runCli(['prune', '--older-than', '1d', '--state', 'succeeded', '--vacuum', '--store', `sqlite:${path}`]);
    assert.equal(real.code, 0, real.output);
    assert.match(real.output, /deleted 2000 jobs/);
    assert.ok(fileSize(path) < before / 2, `${before} → ${fileSize(path)}`);
  });
});
