import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFigures, runChaos } from '../helpers/chaos.js';
import { storeFactories } from '../helpers/stores.js';

/**
 * The long chaos run (`npm run chaos`, issue #13): at least 200 random SIGKILLs of workers and executor hosts per
 * store. PostgreSQL is NOT restarted: the server is shared with other suites; its outages are covered by
 * test/engine-outage.test.ts and the storage-fault tests instead.
 */

const KILLS = Number(process.env.VIGIL_CHAOS_KILLS ?? 200);

for (const factory of storeFactories()) {
  test(`chaos (long) on ${factory.name}: ${KILLS} kills`, { skip: factory.skip, timeout: 1_800_000 }, async () => {
    const location = await factory.create();
    try {
      const figures = await runChaos({ storeUrl: location.url, jobs: 150, kills: KILLS, pauseMs: [150, 700], timeoutMs: 1_500_000, log: (l) => console.log(`# ${l}`) });
      console.log(`# ${formatFigures(figures)}`);
      assert.ok(figures.workerKills + figures.hostKills >= KILLS);
    } finally {
      await location.cleanup();
    }
  });
}
