// Bulk submit: one transaction per batch, every item checked first, nothing stored when one is bad.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { ENGINE_TASKS, openTestVigil, type TestVigil } from './helpers/engine.js';

describe('submitMany and submit --input @file.ndjson', () => {
  let t: TestVigil;
  before(async () => (t = await openTestVigil()));
  after(async () => t.cleanup());

  test('a bad item stores nothing and names its index; good items are stored in order', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(t.vigil.submitMany('noop', [{ a: 1 }, { b: 2 }, circular]), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'VIGIL_INVALID_INPUT');
      assert.match(err.message, /item 2 of 3/);
      return true;
    });
    assert.equal((await t.vigil.list({ limit: 10 })).length, 0, 'nothing stored');
    const jobs = await t.vigil.submitMany('noop', [1, 2, 3]);
    assert.deepEqual(jobs.map((j) => j.input), [1, 2, 3]);
    assert.ok(Number(jobs[0]!.id) < Number(jobs[1]!.id) && Number(jobs[1]!.id) < Number(jobs[2]!.id));
  });

  test('the CLI submits an NDJSON file in one go, or nothing when a line is broken', async () => {
    const before = (await t.vigil.list({ limit: 1000 })).length;
    const bad = join(t.dir, 'bad.ndjson');
    writeFileSync(bad, '{"n":1}\n{"n":2}\n{"n": oops}\n');
    const failed = await runCli(['submit', 'noop', '--input', `@${bad}`, '--tasks', ENGINE_TASKS, '--store', t.storeUrl]);
    assert.notEqual(failed.code, 0);
    assert.match(failed.output, /line 3/);
    assert.equal((await t.vigil.list({ limit: 1000 })).length, before, 'nothing stored');
    const good = join(t.dir, 'good.ndjson');
    writeFileSync(good, '{"n":1}\n\n{"n":2}\n{"n":3}\n');
    const ok = await runCli(['submit', 'noop', '--input', `@${good}`, '--tasks', ENGINE_TASKS, '--store', t.storeUrl]);
    assert.equal(ok.code, 0, ok.output);
    const ids = ok.output.trim().split('\n');
    assert.equal(ids.length, 3);
    const jobs = await t.vigil.store.getMany(ids);
    assert.deepEqual(jobs.map((j) => j.input), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});
