import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { Vigil } from '../src/index.js';
import { openTestVigil, startWorker, until } from './helpers/engine.js';

const TASKS = resolve('test/fixtures/firsthour-tasks.ts');

test('unknown option keys in Vigil.open, submit, wait and startWorker are errors naming the nearest option', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-strict-'));
  try {
    await assert.rejects(Vigil.open({ store: join(dir, 'a.db'), taks: TASKS } as never), /Vigil\.open: option "taks" is not known \(did you mean "tasks"\?\)/);
    assert.equal(existsSync(join(dir, 'a.db')), false, 'a rejected open creates nothing');
    const t = await openTestVigil({ tasks: TASKS });
    try {
      await assert.rejects(t.vigil.submit('fh.slow', { ms: 1 }, { delya: '5m' } as never), /submit: option "delya" is not known \(did you mean "delay"\?\)/);
      await assert.rejects(t.vigil.submit('fh.slow', { ms: 1 }, { priority: 'high' } as never), (err: Error) => {
        assert.match(err.message, /submit: "priority" must be an integer \(got "high"\)/);
        assert.doesNotMatch(err.message, /of the batch/);
        return true;
      });
      await assert.rejects(t.vigil.startWorker({ concurency: 4 } as never), /startWorker: option "concurency" is not known \(did you mean "concurrency"\?\)/);
      const job = await t.vigil.submit('fh.slow', { ms: 1 }, { delay: '1h30m' });
      assert.equal(job.runAt - job.createdAt, 5_400_000);
      await assert.rejects(t.vigil.wait(job.id, { timeot: '1s' } as never), /wait: option "timeot" is not known \(did you mean "timeout"\?\)/);
      assert.equal((await t.vigil.list()).length, 1);
    } finally {
      await t.cleanup();
    }
    await assert.rejects(Vigil.open({ store: join(dir, 'missing.db'), create: false }), (err: Error & { code?: string }) => err.code === 'VIGIL_STORE_NOT_FOUND');
    assert.equal(existsSync(join(dir, 'missing.db')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wait() says at once when no worker runs, and when live workers do not serve the task; its timeout has units', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  const other = await openTestVigil({ tasks: resolve('test/fixtures/cli-tasks.ts'), storeUrl: t.storeUrl });
  try {
    const job = await t.vigil.submit('fh.slow', { ms: 1 });
    const heard: Array<{ message: string; at: number }> = [];
    const started = Date.now();
    await assert.rejects(
      t.vigil.wait(job.id, { timeout: '1500ms', onNoWorker: (message) => heard.push({ message, at: Date.now() - started }) }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VIGIL_WAIT_TIMEOUT');
        assert.match(err.message, new RegExp(`job ${job.id} did not finish within 1.5s \\(it is queued`));
        return true;
      },
    );
    assert.equal(heard.length, 1, 'once at the start (then every 10 s)');
    assert.ok(heard[0]!.at < 1_000, `heard after ${heard[0]!.at} ms`);
    assert.match(heard[0]!.message, new RegExp(`^job ${job.id} is queued and will not start: no worker is running on this store`));

    // A live worker whose module lacks the task (routing by tasks module): still no one to run it.
    await startWorker(other.vigil);
    const again: string[] = [];
    await assert.rejects(t.vigil.wait(job.id, { timeout: '1s', onNoWorker: (m) => again.push(m) }), /did not finish within 1s/);
    assert.equal(again.length, 1);
    assert.match(again[0]!, /none of the 1 live worker serves task "fh\.slow" \(a worker claims only the tasks its tasks module defines\)/);

    // A worker that serves it: no warning, and the job ends.
    await startWorker(t.vigil);
    const none: string[] = [];
    const done = await t.vigil.wait(job.id, { timeout: '20s', onNoWorker: (m) => none.push(m) });
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(none, []);
  } finally {
    await other.cleanup();
    await t.cleanup();
  }
});

test('close() after a cancel of a running job leaves no timer behind (the process can exit at once)', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await startWorker(t.vigil);
  const job = await t.vigil.submit('fh.stuck', null);
  await until('the stuck job to run', 10_000, async () => (await t.vigil.get(job.id)).state === 'running');
  await t.vigil.cancel(job.id);
  const ended = await t.vigil.wait(job.id, { timeout: '20s', onNoWorker: () => undefined });
  assert.equal(ended.state, 'cancelled');
  const closedAt = Date.now();
  await t.cleanup();
  // fh.stuck stops at once on its abort signal, well inside its 5 s grace: a grace timer left running would show here.
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  assert.ok(Date.now() - closedAt < 2_000, 'checked before a 5 s grace or a 2 s capture timer could have fired');
  assert.ok(timers <= timersBefore, `timers after close(): ${timers}, before: ${timersBefore}: ${JSON.stringify(process.getActiveResourcesInfo())}`);
});

test('a command task reports progress by printing "::progress 0.4 decoding" or "::progress 3/10 …"', async () => {
  const { parseProgressLine } = await import('../src/task/progress-line.js');
  assert.deepEqual(parseProgressLine('::progress 0.4 decoding'), { fraction: 0.4, message: 'decoding' });
  assert.deepEqual(parseProgressLine('::progress 3/10'), { fraction: 0.3, done: 3, total: 10 });
  for (const no of ['::progress', '::progress 1.5', '::progress 4/3', 'progress 0.5', '::progressive 0.1', '::progress -0.1']) assert.equal(parseProgressLine(no), null, no);

  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    const job = await t.vigil.submit('fh.decode', null);
    const seen = await until('progress 3/10 from the program', 15_000, async () => {
      const j = await t.vigil.get(job.id);
      return j.progress?.done === 3 ? j : null;
    });
    assert.deepEqual(seen.progress, { fraction: 0.3, done: 3, total: 10, message: 'chunk 3' });
    const lines = await t.vigil.logs(job.id);
    assert.ok(lines.some((l) => l.line === '::progress 7 not a fraction'), 'a line that is not a valid progress line stays output');
    await t.vigil.cancel(job.id);
    await t.vigil.wait(job.id, { timeout: '20s' });
  } finally {
    await t.cleanup();
  }
});
