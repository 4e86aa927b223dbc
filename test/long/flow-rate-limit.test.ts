// Long: `npm run test:flow-long`. The acceptance run of issue 17: 200 jobs, max 10 per 1 s, 3 worker processes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { storeFactories, type StoreLocation } from '../helpers/stores.js';
import { rateLimitRun } from '../helpers/flow.js';

for (const factory of storeFactories()) {
  describe(`rate limit, 200 jobs (${factory.name})`, { skip: factory.skip || undefined }, () => {
    const locations: StoreLocation[] = [];
    after(async () => {
      for (const l of locations) await l.cleanup();
    });
    it('200 jobs with max 10 per 1 s across 3 worker processes finish in 20 s ± 2 s, never more than 10 started in any 1 s window', { timeout: 180_000 }, async () => {
      const loc = await factory.create();
      locations.push(loc);
      const r = await rateLimitRun(loc, 200);
      console.log(`rate limit (${factory.name}): 200 jobs, span of starts ${r.spanMs} ms, first start to last end ${r.totalMs} ms, max ${r.maxPerSecond} starts in 1 s`);
      assert.equal(r.starts.length, 200);
      assert.ok(r.maxPerSecond <= 10, `at most 10 starts in any 1 s window (got ${r.maxPerSecond})`);
      assert.ok(r.totalMs >= 18_000 && r.totalMs <= 22_000, `20 s ± 2 s (got ${r.totalMs} ms)`);
    });
  });
}
