import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFigures, runChaos } from './helpers/chaos.js';
import { privatePgSkip, startPrivatePg } from './helpers/private-pg.js';
import { sqliteFactory } from './helpers/stores.js';

/**
 * The short chaos run (issue #13), on each store: a few dozen jobs of every kind, 3 worker processes, random
 * SIGKILLs of workers and executor hosts; on PostgreSQL also one restart of the database, on a server of the test's
 * own (helpers/private-pg.ts: the shared server other suites use is never stopped). The long form is `npm run chaos`
 * (test/long/chaos.test.ts).
 */

test('chaos (short) on sqlite: every job terminal, none lost, one success each, nothing left running', async () => {
  const location = await sqliteFactory().create();
  try {
    const figures = await runChaos({ storeUrl: location.url, jobs: 30, kills: 8, pauseMs: [400, 1200], timeoutMs: 45_000, log: (l) => console.log(`# ${l}`) });
    console.log(`# ${formatFigures(figures)}`);
    assert.ok(figures.workerKills + figures.hostKills >= 8, 'the kills were made');
  } finally {
    await location.cleanup();
  }
});

// Gated like every PostgreSQL test (VIGIL_TEST_PG_URL), though it runs on a server of its own.
const pgSkip = process.env.VIGIL_TEST_PG_URL ? privatePgSkip() : 'VIGIL_TEST_PG_URL not set';

test('chaos (short) on postgres, restarted once: every job terminal, none lost, one success each, nothing left running', { skip: pgSkip }, async () => {
  const server = await startPrivatePg();
  try {
    const figures = await runChaos({
      storeUrl: `${server.url}?schema=vigil_chaos`,
      jobs: 30,
      kills: 8,
      pauseMs: [400, 1200],
      timeoutMs: 60_000,
      restarts: { count: 1, downMs: [1_500, 3_000], restart: (ms, mode) => server.restart(ms, mode) },
      log: (l) => console.log(`# ${l}`),
    });
    console.log(`# ${formatFigures(figures)}`);
    assert.ok(figures.workerKills + figures.hostKills >= 8, 'the kills were made');
    assert.equal(figures.dbRestarts, 1, 'the database was restarted');
  } finally {
    server.cleanup();
  }
});
