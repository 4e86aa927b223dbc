// `vigil why`: each answer names the real cause of a real situation built here (issue #14).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { openTestVigil, startWorker, until, type TestVigil } from './helpers/engine.js';
import { exited, runCli, startCli } from './helpers/cli.js';
import { formatWhy, type WhyAnswer } from '../src/index.js';

const TASKS = resolve('test/fixtures/beyond-tasks.ts');

describe('vigil why', () => {
  let t: TestVigil;
  before(async () => {
    t = await openTestVigil({ tasks: TASKS });
  });
  after(async () => {
    await t.cleanup();
  });

  test('a job of a task no live worker serves: no-worker', async () => {
    const [r] = await t.vigil.store.enqueue([{ task: 'elsewhere', input: null, retry: { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 } }]);
    const w = await t.vigil.why(r!.job.id);
    assert.equal(w.code, 'no-worker');
    assert.match(w.summary, /no live worker serves task elsewhere/);
    await t.vigil.cancel(r!.job.id);
  });

  describe('with a worker', () => {
    let worker: Awaited<ReturnType<typeof startWorker>>;
    before(async () => {
      worker = await startWorker(t.vigil, { concurrency: 4 });
    });
    after(async () => {
      await worker.stop({ drainMs: 0 });
    });

    test('a capped task: the cap is held by the running job, named', async () => {
      const holder = await t.vigil.submit('capped', { ms: 60_000 });
      await until('the holder runs', 10_000, async () => (await t.vigil.get(holder.id)).state === 'running');
      const waiting = await t.vigil.submit('capped', { ms: 10 });
      const w = await t.vigil.why(waiting.id);
      assert.equal(w.code, 'concurrency-cap', formatWhy(w));
      assert.deepEqual(w.jobs, [holder.id]);
      assert.match(w.summary, new RegExp(`held by job ${holder.id}`));
      // A third one is behind the cap too (the cap is the first thing the claim stops at).
      await t.vigil.cancel(waiting.id);
      await t.vigil.cancel(holder.id);
    });

    test('a retry backoff: waiting until T after attempt 1 failed with its error', async () => {
      const job = await t.vigil.submit('failsOnce', null);
      await until('the first attempt failed', 10_000, async () => {
        const j = await t.vigil.get(job.id);
        return j.state === 'queued' && j.attempts === 1;
      });
      const w = await t.vigil.why(job.id);
      assert.equal(w.code, 'retry-backoff', formatWhy(w));
      assert.match(w.summary, /after attempt 1 failed with error: the upstream answered 503/);
      assert.ok(w.until! > Date.now() + 30 * 60_000, 'about an hour away');
      await t.vigil.cancel(job.id);
    });

    test('a 3-level tree whose leaf waits on a cap: the answer goes down to the leaf and names the holder', async () => {
      const holder = await t.vigil.submit('capped', { ms: 60_000 });
      await until('the holder runs', 10_000, async () => (await t.vigil.get(holder.id)).state === 'running');
      const root = await t.vigil.submit('treeRoot', { ms: 10 });
      const leaf = await until('the leaf exists', 10_000, async () => {
        const [mid] = await t.vigil.children(root.id);
        const [l] = mid ? await t.vigil.children(mid.id) : [];
        return l;
      });
      const w: WhyAnswer = await until('the tree waits', 10_000, async () => {
        const a = await t.vigil.why(root.id);
        return a.code === 'waiting-children' && a.children?.waiting[0]?.code === 'waiting-children' ? a : null;
      });
      assert.equal(w.children!.done, 0);
      assert.equal(w.children!.total, 1);
      const mid = w.children!.waiting[0]!;
      const leafAnswer = mid.children!.waiting[0]!;
      assert.equal(leafAnswer.jobId, leaf.id);
      assert.equal(leafAnswer.code, 'concurrency-cap', formatWhy(w));
      assert.deepEqual(leafAnswer.jobs, [holder.id]);
      assert.match(formatWhy(w), /waits on its children: 0 of 1 done\n {2}- job \d+ waits on its children: 0 of 1 done\n {4}- task capped's concurrency cap/);
      // Free the cap: the whole tree finishes.
      await t.vigil.cancel(holder.id);
      const done = await t.vigil.wait(root.id, { timeout: '20s' });
      assert.equal(done.state, 'succeeded');
      assert.equal((await t.vigil.why(root.id)).code, 'finished');
    });
  });

  test("a lost worker's lease (SIGKILL): held by a lost worker, recovered when the lease expires; the CLI says so", async () => {
    const child = startCli(['worker', '--tasks', TASKS, '--store', t.storeUrl, '--lease', '2s', '--concurrency', '1']);
    try {
      const job = await t.vigil.submit('hold', { ms: 120_000 });
      await until('the CLI worker runs it', 20_000, async () => {
        const j = await t.vigil.get(job.id);
        return j.state === 'running' && j.leaseOwner?.includes(`:${child.pid}:`) ? j : null;
      });
      child.kill('SIGKILL');
      await exited(child, 5_000);
      const w = await until('the lease expired', 10_000, async () => {
        const a = await t.vigil.why(job.id);
        return a.code === 'lease-lost' && a.until! < Date.now() ? a : null;
      });
      assert.match(w.summary, new RegExp(`held by a lost worker .*:${child.pid}:`));
      assert.match(w.summary, /lease expired at/);
      const cli = await runCli(['why', job.id, '--store', t.storeUrl, '--json']);
      assert.equal(cli.code, 0, cli.output);
      assert.equal((JSON.parse(cli.output) as WhyAnswer).code, 'lease-lost');
      await t.vigil.cancel(job.id);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
