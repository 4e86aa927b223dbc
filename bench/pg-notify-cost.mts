// Prices the finished-jobs NOTIFY with several workers committing at once (NOTIFY serialises notifying commits
// on a database-wide lock held through the commit): K stores (pools), each a serial claim(1)→finish loop, with
// and without the NOTIFY in the trigger, alternated.
//   VIGIL_BENCH_PG_URL=postgres://… node --import tsx bench/pg-notify-cost.mts [loops=4] [jobs=2000] [rounds=3]
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';

const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const [loops = 4, jobs = 2000, rounds = 3] = process.argv.slice(2).map(Number);
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
for (let r = 1; r <= rounds; r++) {
  for (const notify of [true, false]) {
    const schema = `notify_${randomBytes(4).toString('hex')}`;
    const stores = await Promise.all(Array.from({ length: loops }, () => openPostgresStore(`${PG}?schema=${schema}`)));
    // Every store listens, as workers do.
    for (const s of stores) s.subscribe(() => undefined);
    await Promise.all(stores.map((s) => s.whenListening()));
    if (!notify) {
      const def = (await admin.query<{ d: string }>(`SELECT pg_get_functiondef('"${schema}".jobs_updated()'::regprocedure) AS d`)).rows[0]!.d;
      await admin.query(def.replace(/pg_notify\(/g, 'concat_ws('));
    }
    await stores[0]!.enqueue(Array.from({ length: jobs }, () => ({ task: 't', input: {}, retry })));
    const t0 = performance.now();
    await Promise.all(stores.map(async (s, i) => {
      for (;;) {
        const [c] = await s.claim({ workerId: `w${i}`, leaseMs: 30_000, limit: 1, tasks: { t: 1 } });
        if (!c) return;
        await s.finishAttempt(c.fence, { outcome: 'succeeded', result: null });
      }
    }));
    console.log(`round ${r} ${notify ? 'with NOTIFY   ' : 'without NOTIFY'}: ${Math.round(jobs / ((performance.now() - t0) / 1000))} jobs/s (${loops} loops, load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
    await Promise.all(stores.map((s) => s.close()));
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
  }
}
await admin.end();
