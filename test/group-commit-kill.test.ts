// Finishes are group-committed (src/store/group-commit.ts): many attempts' outcomes share one transaction, and the
// engine hears "recorded" only after it committed. A real worker process is SIGKILLed while it drains a backlog at
// concurrency 10, so commits are in flight at the instant of the kill. Then: every outcome the worker acknowledged
// (its "succeeded" log line, written after the commit) is in the store, and no job ever ran twice at once — the
// attempts the kill cut short stopped with their worker, before another worker started them again.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Vigil } from '../src/index.js';
import { exited, startCli } from './helpers/cli.js';
import { until } from './helpers/engine.js';
import { storeFactories, type StoreLocation } from './helpers/stores.js';
import { alive, runsOf } from './helpers/recorded-runs.js';

const TASKS = resolve('test/fixtures/group-commit-tasks.ts');
// The kill lands after 100 acknowledged results, commits in flight; the 150 left are the second worker's.
const JOBS = 250;

for (const factory of storeFactories()) {
  describe(`group commit, ${factory.name}: a worker SIGKILLed mid-commit`, { skip: factory.skip }, () => {
    let location: StoreLocation;
    let vigil: Vigil;
    let dir: string;
    before(async () => {
      location = await factory.create();
      dir = mkdtempSync(join(tmpdir(), 'vigil-gc-kill-'));
      vigil = await Vigil.open({ store: location.url, tasks: TASKS });
    });
    after(async () => {
      await vigil.close();
      await location.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    test('loses no acknowledged result and runs no job twice at once', async () => {
      const file = join(dir, 'runs.txt');
      const jobs = await vigil.submitMany('recorded', Array.from({ length: JOBS }, (_, n) => ({ file, n, ms: n % 3 })));
      const worker = startCli(['worker', '--tasks', TASKS, '--store', location.url, '--concurrency', '10', '--lease', '2s']);
      const acked = (): Map<string, number> => {
        const out = new Map<string, number>();
        for (const m of worker.output().matchAll(/job (\d+): attempt (\d+) succeeded/g)) out.set(m[1]!, Number(m[2]));
        return out;
      };
      await until('100 acknowledged results', 60_000, () => acked().size >= 100);
      worker.kill('SIGKILL');
      await exited(worker, 5_000);
      const acknowledged = acked();
      assert.ok(acknowledged.size < JOBS, 'the kill came before the backlog was drained');

      // Every acknowledged outcome is durable, with the attempt that reported it.
      const stored = new Map((await vigil.store.getMany([...acknowledged.keys()])).map((j) => [j.id, j]));
      for (const [id, attempt] of acknowledged) {
        const job = stored.get(id);
        assert.equal(job?.state, 'succeeded', `acknowledged job ${id} is succeeded in the store`);
        assert.equal(job.attempts, attempt, `job ${id}: the acknowledged attempt is the stored one`);
      }

      // Nothing of the killed worker runs on: its executor hosts die with it.
      const firstPids = new Set([...runsOf(file).values()].flatMap((runs) => runs.map((r) => r.pid)));
      await until('the killed worker’s executor hosts to be gone', 10_000, () => [...firstPids].every((pid) => !alive(pid)));
      const deadAt = Date.now();

      const second = startCli(['worker', '--tasks', TASKS, '--store', location.url, '--concurrency', '10', '--lease', '2s']);
      try {
        await until('every job succeeded', 120_000, async () => (await vigil.store.counts()).succeeded === JOBS);
      } finally {
        second.kill('SIGTERM');
        await exited(second, 15_000);
      }

      const runs = runsOf(file);
      assert.equal(runs.size, JOBS, 'every job ran');
      for (const job of jobs) {
        const list = runs.get(job.id)!.sort((a, b) => a.start - b.start);
        for (const r of list) {
          if (firstPids.has(r.pid)) assert.ok((r.end ?? r.start) <= deadAt, `job ${job.id}: attempt ${r.attempt} ran on after its worker was killed`);
          else assert.ok(r.start >= deadAt, `job ${job.id}: attempt ${r.attempt} of the second worker is after the kill`);
        }
        // Intervals of one job never overlap: an attempt cut short by the kill ends, at the latest, at deadAt.
        for (let i = 1; i < list.length; i++) {
          const prev = list[i - 1]!;
          assert.ok((prev.end ?? deadAt) <= list[i]!.start, `job ${job.id}: attempts ${prev.attempt} and ${list[i]!.attempt} overlap`);
        }
        const attempts = await vigil.attempts(job.id);
        assert.equal(attempts.filter((a) => a.outcome === 'succeeded').length, 1, `job ${job.id}: exactly one success`);
        const done = attempts.find((a) => a.outcome === 'succeeded')!;
        assert.ok(list.some((r) => r.attempt === done.attempt && r.end !== null), `job ${job.id}: the recorded success ran to its end`);
        const ack = acknowledged.get(job.id);
        if (ack !== undefined) assert.equal(done.attempt, ack, `job ${job.id}: the acknowledged attempt stays the success`);
      }
    });
  });
}
