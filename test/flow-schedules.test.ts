import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { defineSchedule, defineTask } from '../src/index.js';
import type { Store } from '../src/store/contract.js';
import { decideTicks, nextTick } from '../src/schedule/ticks.js';
import { ScheduleTicker } from '../src/schedule/ticker.js';
import type { TaskMap } from '../src/task/registry.js';
import { storeFactories, waitUntil, type StoreLocation } from './helpers/stores.js';
import { startWorkerProcess, stopProcess } from './helpers/flow.js';
import { runCli } from './helpers/cli.js';

const SCHEDULE_TASKS = 'test/fixtures/flow-schedule-tasks.ts';
const noop = defineTask({ name: 'noop', run: () => null });
const tasks: TaskMap = new Map([['noop', noop]]);
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

describe('schedule ticks (pure, injected times)', () => {
  it('every: ticks are aligned to the epoch, so every worker computes the same ones', () => {
    const s = defineSchedule({ name: 's', every: '10s', task: noop });
    assert.equal(nextTick(s, T0 + 1), T0 + 10_000);
    assert.deepEqual(decideTicks(s, T0, T0 + 35_000).fire, [T0 + 10_000, T0 + 20_000, T0 + 30_000].slice(-1));
  });

  it('cron with a time zone, via croner', () => {
    const s = defineSchedule({ name: 'c', cron: '0 9 * * *', timezone: 'America/New_York', task: noop });
    assert.equal(new Date(nextTick(s, T0)!).toISOString(), '2030-01-01T14:00:00.000Z');
  });

  it('catch-up policies over 10 missed ticks', () => {
    const base = { every: '1m', task: noop } as const;
    const now = T0 + 10 * 60_000 + 500; // ten ticks passed, the last 500 ms ago
    assert.equal(decideTicks(defineSchedule({ ...base, name: 'a', catchUp: 'all' }), T0, now).fire.length, 10);
    assert.deepEqual(decideTicks(defineSchedule({ ...base, name: 'b', catchUp: 'all', maxCatchUp: 3 }), T0, now).fire, [T0 + 8 * 60_000, T0 + 9 * 60_000, T0 + 10 * 60_000]);
    assert.deepEqual(decideTicks(defineSchedule({ ...base, name: 'c', catchUp: 'latest' }), T0, now).fire, [T0 + 10 * 60_000]);
    // 'none': the latest tick is only 500 ms late, so it is on time; the nine before are skipped.
    assert.deepEqual(decideTicks(defineSchedule({ ...base, name: 'd', catchUp: 'none' }), T0, now).fire, [T0 + 10 * 60_000]);
    // 'none' with the latest tick 30 s late: nothing.
    const late = decideTicks(defineSchedule({ ...base, name: 'e', catchUp: 'none' }), T0, T0 + 10 * 60_000 + 30_000);
    assert.deepEqual(late.fire, []);
    assert.equal(late.lastTickAt, T0 + 10 * 60_000, 'skipped ticks are still handled: they never fire later');
  });

  it('a long gap of a per-second cron is decided without walking every tick', () => {
    const s = defineSchedule({ name: 'fast', cron: '* * * * * *', task: noop, catchUp: 'all', maxCatchUp: 5 });
    const started = Date.now();
    const d = decideTicks(s, T0, T0 + 30 * 86_400_000);
    assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
    assert.deepEqual(d.fire, [4, 3, 2, 1, 0].map((k) => T0 + 30 * 86_400_000 - k * 1_000));
    assert.equal(d.lastTickAt, T0 + 30 * 86_400_000);
    // Irregular gaps (weekends) after a 90-day outage: exactly the last three weekday ticks.
    const weekdays = defineSchedule({ name: 'wd', cron: '0 9 * * 1-5', task: noop, catchUp: 'all', maxCatchUp: 3 });
    const monday = Date.UTC(2030, 3, 8, 10, 0, 0); // Monday 8 April 2030, 10:00 UTC
    assert.deepEqual(
      decideTicks(weekdays, monday - 90 * 86_400_000, monday).fire.map((t) => new Date(t).toISOString()),
      ['2030-04-04T09:00:00.000Z', '2030-04-05T09:00:00.000Z', '2030-04-08T09:00:00.000Z'],
    );
  });

  it('rejects bad definitions with the option named', () => {
    assert.throws(() => defineSchedule({ name: 'x', cron: 'every day', task: noop }), /schedule "x": option "cron"/);
    assert.throws(() => defineSchedule({ name: 'x', task: noop } as never), /exactly one of "cron" or "every"/);
    assert.throws(() => defineSchedule({ name: 'x', every: '1s', task: noop, catchUp: 'some' as never }), /catchUp/);
  });
});

for (const factory of storeFactories()) {
  describe(`schedules on ${factory.name}`, { skip: factory.skip || undefined }, () => {
    const locations: StoreLocation[] = [];
    after(async () => {
      for (const l of locations) await l.cleanup();
    });
    async function fresh(): Promise<{ loc: StoreLocation; store: Store }> {
      const loc = await factory.create();
      locations.push(loc);
      return { loc, store: await loc.open() };
    }

    for (const catchUp of ['none', 'latest', 'all'] as const) {
      it(`catch-up '${catchUp}' with an injected clock: ticks missed while no worker ran`, async () => {
        const { store } = await fresh();
        let now = T0 + 250;
        const schedule = defineSchedule({ name: `s-${catchUp}`, every: '1s', task: noop, catchUp, maxCatchUp: 4 });
        const tickers = [0, 1, 2].map(() => new ScheduleTicker({ store, schedules: [schedule], tasks, clock: async () => now }));
        await tickers[0]!.tick(); // registers: nothing is back-filled from before the schedule existed
        assert.equal((await store.list({ task: 'noop' })).length, 0);
        now = T0 + 1_100;
        for (const t of tickers) await t.tick(); // three workers, one tick: one job
        assert.equal((await store.list({ task: 'noop' })).length, 1);
        now = T0 + 10_500; // nine ticks missed (2 s … 10 s): no worker ran
        await Promise.all(tickers.map((t) => t.tick()));
        const keys = (await store.list({ task: 'noop' })).map((j) => j.idempotencyKey).sort();
        const expected = { none: [T0 + 1_000, T0 + 10_000], latest: [T0 + 1_000, T0 + 10_000], all: [T0 + 1_000, T0 + 7_000, T0 + 8_000, T0 + 9_000, T0 + 10_000] }[catchUp];
        assert.deepEqual(keys, expected.map((t) => `schedule:s-${catchUp}:${t}`).sort());
        const [state] = await store.listSchedules();
        assert.equal(state!.lastTickAt, T0 + 10_000);
        assert.equal(state!.nextTickAt, T0 + 11_000);
      });
    }

    it('a late tick beyond the on-time window is skipped by catch-up none', async () => {
      const { store } = await fresh();
      let now = T0;
      const ticker = new ScheduleTicker({ store, schedules: [defineSchedule({ name: 'n', every: '1m', task: noop, catchUp: 'none' })], tasks, clock: async () => now });
      await ticker.tick();
      now = T0 + 60_000 + 10_000; // the worker came back 10 s after the tick
      await ticker.tick();
      assert.equal((await store.list({ task: 'noop' })).length, 0);
      now = T0 + 120_000 + 100;
      await ticker.tick();
      assert.equal((await store.list({ task: 'noop' })).length, 1);
    });

    const processes = factory.name === 'sqlite' ? 2 : 3;
    it(`every-1s schedule, ${processes} worker processes for 10 s, one SIGKILLed mid-run: exactly one job per tick`, { timeout: 120_000 }, async () => {
      const { loc, store } = await fresh();
      const workers = Array.from({ length: processes }, () => startWorkerProcess(loc.url, SCHEDULE_TASKS, ['--concurrency', '4', '--lease', '2s', '--quiet']));
      try {
        const first = await waitUntil('the first tick job', async () => (await store.list({ task: 'tick', limit: 1000 })).at(-1), 30_000, 100);
        const start = Number(first.idempotencyKey!.split(':').at(-1));
        await waitUntil('5 s of ticks', async () => (await store.listSchedules())[0]!.lastTickAt >= start + 5_000, 20_000, 100);
        workers[0]!.kill('SIGKILL'); // mid-run: a tick job may be running on it, its ticker may be mid-transaction
        await waitUntil('10 s of ticks', async () => (await store.listSchedules())[0]!.lastTickAt >= start + 10_000, 20_000, 100);
      } finally {
        await Promise.all(workers.map((w) => stopProcess(w)));
      }
      const jobs = await store.list({ task: 'tick', limit: 1000 });
      const ticks = jobs.map((j) => Number(j.idempotencyKey!.split(':').at(-1))).sort((a, b) => a - b);
      assert.equal(new Set(ticks).size, jobs.length, 'no tick was enqueued twice');
      assert.ok(ticks.length >= 11, `ticks: ${ticks.length}`);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, 1_000, `no tick missing (catchUp 'all'), at ${i}`);
      for (const j of jobs) assert.equal(j.input && (j.input as { from: string }).from, 'schedule');
      assert.deepEqual(jobs.filter((j) => j.state === 'failed'), [], 'the killed worker cost no job');
      const [state] = await store.listSchedules();
      assert.equal(state!.lastTickAt, ticks.at(-1));
      assert.equal(state!.lastJobId, jobs.find((j) => j.idempotencyKey === `schedule:every-second:${ticks.at(-1)}`)!.id);
      const [listed, json] = await Promise.all([runCli(['schedules', '--store', loc.url]), runCli(['schedules', '--json', '--store', loc.url])]);
      assert.equal(listed.code, 0, listed.output);
      assert.match(listed.output, new RegExp(`every-second +tick +every 1s, catch-up all .* ${state!.lastJobId} `));
      assert.equal((JSON.parse(json.output) as Array<{ nextTickAt: number }>)[0]!.nextTickAt, ticks.at(-1)! + 1_000);
    });
  });
}
