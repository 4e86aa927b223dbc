import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFigures, runChaos } from '../helpers/chaos.js';
import { privatePgSkip, startPrivatePg } from '../helpers/private-pg.js';
import { sqliteFactory } from '../helpers/stores.js';

/**
 * The long chaos run (`npm run chaos`, issue #13): at least 200 random SIGKILLs of workers and executor hosts per
 * store, and on PostgreSQL restarts of the database (fast shutdowns and crashes in turn) on a server of the test's
 * own (helpers/private-pg.ts), never the shared one.
 */

const KILLS = Number(process.env.VIGIL_CHAOS_KILLS ?? 200);
const RESTARTS = Number(process.env.VIGIL_CHAOS_DB_RESTARTS ?? 6);

test(`chaos (long) on sqlite: ${KILLS} kills`, { timeout: 1_800_000 }, async () => {
  const location = await sqliteFactory().create();
  try {
    const figures = await runChaos({ storeUrl: location.url, jobs: 150, kills: KILLS, pauseMs: [150, 700], timeoutMs: 1_500_000, log: (l) => console.log(`# ${l}`) });
    console.log(`# ${formatFigures(figures)}`);
    assert.ok(figures.workerKills + figures.hostKills >= KILLS);
  } finally {
    await location.cleanup();
  }
});

const pgSkip = process.env.VIGIL_TEST_PG_URL ? privatePgSkip() : 'VIGIL_TEST_PG_URL not set';

test(`chaos (long) on postgres: ${KILLS} kills, ${RESTARTS} database restarts`, { skip: pgSkip, timeout: 1_800_000 }, async () => {
  const server = await startPrivatePg();
  try {
    const figures = await runChaos({
      storeUrl: `${server.url}?schema=vigil_chaos`,
      jobs: 150,
      kills: KILLS,
      pauseMs: [150, 700],
      timeoutMs: 1_500_000,
      restarts: { count: RESTARTS, downMs: [1_000, 5_000], restart: (ms, mode) => server.restart(ms, mode) },
      log: (l) => console.log(`# ${l}`),
    });
    console.log(`# ${formatFigures(figures)}`);
    assert.ok(figures.workerKills + figures.hostKills >= KILLS);
    assert.equal(figures.dbRestarts, RESTARTS);
  } finally {
    server.cleanup();
  }
});
