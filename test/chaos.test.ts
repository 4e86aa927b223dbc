import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFigures, runChaos } from './helpers/chaos.js';
import { storeFactories } from './helpers/stores.js';

/**
 * The short chaos run (issue #13), on each store: a few dozen jobs of every kind, 3 worker processes, random
 * SIGKILLs of workers and executor hosts. No database restarts (other suites share the PostgreSQL server). The long
 * form is `npm run chaos` (test/long/chaos.test.ts).
 */

for (const factory of storeFactories()) {
  test(`chaos (short) on ${factory.name}: every job terminal, none lost, one success each, nothing left running`, { skip: factory.skip }, async () => {
    const location = await factory.create();
    try {
      const figures = await runChaos({ storeUrl: location.url, jobs: 30, kills: 8, pauseMs: [400, 1200], timeoutMs: 45_000, log: (l) => console.log(`# ${l}`) });
      console.log(`# ${formatFigures(figures)}`);
      assert.ok(figures.workerKills + figures.hostKills >= 8, 'the kills were made');
    } finally {
      await location.cleanup();
    }
  });
}
