// PostgreSQL-only behaviour of the store (the shared contract is test/store-contract.test.ts): concurrent
// migrations, LISTEN/NOTIFY wake-ups, connections killed with pg_terminate_backend, a database outage longer than
// the lease (through a TCP proxy that this test cuts), the database clock, and SKIP LOCKED claiming.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { StoreUnavailableError } from '../src/errors.js';
import type { Fence, NewJob, StoreEvent } from '../src/store/contract.js';
import { nextState } from '../src/store/next-state.js';
import { NEXT_RUN_AT } from '../src/store/postgres/claim.js';
import { loadMigrations, migrate } from '../src/store/postgres/migrate.js';
import { openPostgresStore, type PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { RetryPolicy } from '../src/types.js';

const BASE = process.env.VIGIL_TEST_PG_URL;
const skip = BASE ? false : 'VIGIL_TEST_PG_URL not set';

const RETRY: RetryPolicy = { maxAttempts: 3, backoffMs: 10, factor: 2, maxDelayMs: 100, jitter: 0 };
const schemas: string[] = [];
const stores: PostgresStore[] = [];
let admin: pg.Client;

function freshSchema(): string {
  const s = `vigil_pgtest_${randomBytes(5).toString('hex')}`;
  schemas.push(s);
  return s;
}

function urlFor(schema: string, base: string = BASE!): string {
  return `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
}

async function open(schema: string, base?: string, options?: { pollMs?: number }): Promise<PostgresStore> {
  const s = await openPostgresStore(urlFor(schema, base), options);
  stores.push(s);
  return s;
}

function job(task: string, extra: Partial<NewJob> = {}): NewJob {
  return { task, input: { n: 1 }, retry: RETRY, ...extra };
}

/** Resolves with the first event matching, or fails after timeoutMs. */
function nextEvent(store: PostgresStore, match: (e: StoreEvent) => boolean, timeoutMs = 5_000): Promise<StoreEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching store event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = store.subscribe((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

async function waitUntil<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== false && v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Calls `op` until the store answers, as the engine does; any error but StoreUnavailableError fails the test. */
async function retryUnavailable<T>(op: () => Promise<T>, timeoutMs = 15_000): Promise<{ value: T; unavailable: number }> {
  const until = Date.now() + timeoutMs;
  let unavailable = 0;
  for (;;) {
    try {
      return { value: await op(), unavailable };
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      assert.equal(err.code, 'VIGIL_STORE_UNAVAILABLE');
      unavailable++;
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function terminate(store: PostgresStore, onlyListen = false): Promise<number> {
  const res = await admin.query(
    `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = $1 AND ($2::boolean = false OR query ILIKE 'LISTEN%')`,
    [store.applicationName, onlyListen],
  );
  return res.rowCount ?? 0;
}

/** A TCP proxy in front of PostgreSQL that the test can cut and restore: a real outage for one store only. */
class Proxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}


/** Calls `seen` with every statement any pg client sends (text, and name when prepared) until the returned restore(). */
function spyQueries(seen: (query: { text: string; name?: string }) => void): () => void {
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const a = args[0] as { text?: string; name?: string } | string;
    const query = typeof a === 'string' ? { text: a } : { text: a?.text ?? '', name: a?.name };
    // Not passed on: the read a store's listener makes when an enqueue's NOTIFY arrives (which tasks are runnable),
    // at a moment of its own — CI saw it land inside a test's window of two statements.
    if (!query.text.includes('SELECT DISTINCT task FROM (')) seen(query);
    return (original as (...x: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return () => {
    pg.Client.prototype.query = original;
  };
}

/** `n` jobs running for another worker: a busy table, on which the planner picks the plans a real one gets. */
async function runningElsewhere(store: PostgresStore, n: number): Promise<void> {
  await store.enqueue(Array.from({ length: n }, () => job('busy')));
  assert.equal((await store.claim({ workerId: 'other', leaseMs: 60_000, limit: n, tasks: { busy: n } })).length, n);
}

/**
 * Another transaction takes two job rows in id order, as a batch of finishes does: `low` first, then — once `write`
 * waits for it — `high`. A write that takes its rows in id order holds nothing while it waits for `low`, so `high`
 * must be free (NOWAIT fails at once if not: the write had locked it first, and the two would wait on each other
 * until PostgreSQL aborted one after deadlock_timeout). The write must then succeed.
 */
async function holdsNothingWhileWaiting(schema: string, low: string, high: string, what: string, write: () => Promise<unknown>): Promise<void> {
  const holder = new pg.Client({ connectionString: BASE });
  await holder.connect();
  try {
    await holder.query(`BEGIN`);
    await holder.query(`SET LOCAL lock_timeout = '20s'`);
    await holder.query(`SELECT 1 FROM "${schema}".jobs WHERE id = $1 FOR UPDATE`, [low]);
    const writing = write().then(
      () => null,
      (error: unknown) => error,
    );
    const waiting = async (): Promise<boolean> =>
      (await admin.query(`SELECT count(*)::int AS n FROM pg_locks l WHERE NOT l.granted AND l.pid <> $1`, [holder.processID])).rows[0].n > 0;
    const until = Date.now() + 10_000;
    while (!(await waiting())) {
      assert.ok(Date.now() < until, `${what}: never waited for the held row`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await holder.query(`SELECT 1 FROM "${schema}".jobs WHERE id = $1 FOR UPDATE NOWAIT`, [high]);
    await holder.query(`COMMIT`);
    assert.equal(await writing, null, `${what} failed`);
  } finally {
    await holder.end();
  }
}

describe('PostgreSQL store', { skip }, () => {
  before(async () => {
    admin = new pg.Client({ connectionString: BASE });
    await admin.connect();
  });

  after(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  it('migrates once when many workers open a new schema at the same time', async () => {
    const schema = freshSchema();
    const opened = await Promise.all(Array.from({ length: 6 }, () => open(schema)));
    const versions = await admin.query(`SELECT version, count(*)::int AS n FROM "${schema}".schema_migrations GROUP BY version`);
    assert.ok(versions.rows.length >= 1);
    for (const r of versions.rows) assert.equal(r.n, 1);
    // Every instance works on the one schema they share.
    const [first] = await opened[0]!.enqueue([job('mig')]);
    for (const s of opened) assert.equal((await s.get(first!.job.id))?.task, 'mig');
  });

  it('fails to open with a clear error: bad schema name, unreachable database', async () => {
    await assert.rejects(openPostgresStore(urlFor('no-dashes')), (e: { code?: string }) => e.code === 'VIGIL_STORE_URL');
    const down = new URL(BASE!);
    down.hostname = '127.0.0.1';
    down.port = '1'; // nothing listens there: connection refused at once
    await assert.rejects(openPostgresStore(urlFor(freshSchema(), down.toString())), (e: unknown) => {
      assert.ok(e instanceof StoreUnavailableError);
      assert.match(e.message, /is the database running/);
      return true;
    });
  });

  it('falls back to a slow poll when a notification is lost', async () => {
    const schema = freshSchema();
    const store = await open(schema, undefined, { pollMs: 200 });
    store.subscribe(() => undefined);
    await store.whenListening();
    const woke = nextEvent(store, (e) => e.type === 'enqueued' && e.tasks.includes('silent'));
    // A job that arrives without any NOTIFY (triggers off for this session), as if the notification were lost.
    await admin.query('BEGIN');
    await admin.query("SET LOCAL session_replication_role = 'replica'");
    await admin.query(
      `INSERT INTO "${schema}".jobs (task, state, input, retry, max_attempts, run_at, created_at, updated_at)
       VALUES ('silent', 'queued', 'null', $1, 3, "${schema}".now_ms(), "${schema}".now_ms(), "${schema}".now_ms())`,
      [JSON.stringify(RETRY)],
    );
    await admin.query('COMMIT');
    await woke;
  });

  it('keeps schemas isolated: ?schema= selects an instance, its events stay on its own channel', async () => {
    const a = await open(freshSchema());
    const b = await open(freshSchema());
    const heardB: StoreEvent[] = [];
    b.subscribe((e) => heardB.push(e));
    await b.whenListening();
    const got = nextEvent(a, (e) => e.type === 'enqueued' && e.tasks.includes('iso'));
    await a.whenListening();
    const [r] = await a.enqueue([job('iso')]);
    await got;
    assert.equal(await b.get(r!.job.id), null);
    assert.deepEqual(await b.counts(), { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 });
    assert.deepEqual(heardB, []);
  });

  it('wakes other processes through LISTEN/NOTIFY: enqueued, finished, cancelRequested', async (t) => {
    const schema = freshSchema();
    const listener = await open(schema, undefined, { pollMs: 60_000 });
    const writer = await open(schema);
    listener.subscribe(() => undefined);
    await listener.whenListening();

    let t0 = Date.now();
    const enq = nextEvent(listener, (e) => e.type === 'enqueued' && e.tasks.includes('wake'));
    const [parent] = await writer.enqueue([job('wake')]);
    assert.deepEqual(await enq, { type: 'enqueued', tasks: ['wake'] });
    t.diagnostic(`enqueue → other store's event: ${Date.now() - t0} ms`);

    const [claimed] = await writer.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { wake: 1 } });
    const [child] = await writer.enqueue([job('kid', { parentId: parent!.job.id, childKey: 'a' })]);
    const [kidClaim] = await writer.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { kid: 1 } });
    t0 = Date.now();
    const fin = nextEvent(listener, (e) => e.type === 'finished' && e.jobId === child!.job.id);
    assert.notEqual(await writer.finishAttempt(kidClaim!.fence, { outcome: 'succeeded', result: 7 }), null);
    assert.deepEqual(await fin, { type: 'finished', jobId: child!.job.id, parentId: parent!.job.id, state: 'succeeded' });
    t.diagnostic(`finish → other store's event: ${Date.now() - t0} ms`);

    const cancelReq = nextEvent(listener, (e) => e.type === 'cancelRequested');
    await writer.cancel([parent!.job.id], 'operator said stop');
    assert.deepEqual(await cancelReq, { type: 'cancelRequested', jobIds: [claimed!.job.id] });
    const renewed = await writer.renewLeases('w', [claimed!.fence], 30_000);
    assert.deepEqual(renewed.cancelRequested, [claimed!.fence]);
  });

  it('reconnects its LISTEN connection after pg_terminate_backend and tells waiters to look again', async () => {
    const schema = freshSchema();
    const store = await open(schema, undefined, { pollMs: 60_000 });
    const other = await open(schema);
    store.subscribe(() => undefined);
    await store.whenListening();
    assert.equal(store.listenConnections, 1);
    // Work that was enqueued while nobody listened: the synthetic event must name its task.
    await other.enqueue([job('missed')]);
    const synthetic = nextEvent(store, (e) => e.type === 'enqueued' && e.tasks.includes('missed'));
    assert.equal(await terminate(store, true), 1);
    await synthetic;
    await waitUntil('a second LISTEN connection', async () => store.listening && store.listenConnections === 2);
    const live = nextEvent(store, (e) => e.type === 'enqueued' && e.tasks.includes('after'));
    await other.enqueue([job('after')]);
    await live;
  });

  it('survives pg_terminate_backend on every connection: errors are StoreUnavailableError, then it resumes', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    store.subscribe(() => undefined);
    await store.whenListening();
    await store.enqueue([job('conn'), job('conn')]);
    const claimed = await store.claim({ workerId: 'w-conn', leaseMs: 30_000, limit: 2, tasks: { conn: 2 } });
    assert.equal(claimed.length, 2);
    // Fill the pool so there are idle connections to kill, not just the LISTEN one.
    await Promise.all(Array.from({ length: 4 }, () => store.counts()));
    assert.ok((await terminate(store)) >= 2);

    // The running attempts are untouched by the outage: the worker renews and finishes them once the store answers.
    const fences: Fence[] = claimed.map((c) => c.fence);
    const renew = await retryUnavailable(() => store.renewLeases('w-conn', fences, 30_000));
    assert.deepEqual(renew.value.lost, []);
    for (const f of fences) {
      const done = await retryUnavailable(() => store.finishAttempt(f, { outcome: 'succeeded', result: { jobId: f.jobId } }));
      assert.equal(done.value?.state, 'succeeded');
    }
    assert.equal((await store.counts()).succeeded, 2);
    await waitUntil('the LISTEN connection to come back', async () => store.listening);
    const live = nextEvent(store, (e) => e.type === 'enqueued' && e.tasks.includes('conn2'));
    await store.enqueue([job('conn2')]);
    await live;
  });

  it('an outage longer than the lease: the job re-runs elsewhere, the late result is fenced out', async () => {
    const base = new URL(BASE!);
    const proxy = new Proxy({ host: base.hostname, port: Number(base.port || 5432) });
    await proxy.up();
    try {
      const viaProxy = new URL(BASE!);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const schema = freshSchema();
      const cut = await open(schema, viaProxy.toString());
      const healthy = await open(schema);
      cut.subscribe(() => undefined);
      await cut.whenListening();
      const [r] = await healthy.enqueue([job('outage')]);
      const [mine] = await cut.claim({ workerId: 'w-cut', leaseMs: 400, limit: 1, tasks: { outage: 1 } });
      assert.ok(mine);

      await proxy.down();
      await assert.rejects(
        cut.finishAttempt(mine.fence, { outcome: 'succeeded', result: 'late' }),
        (e: unknown) => e instanceof StoreUnavailableError,
      );
      // Meanwhile another worker sees the lease expire on the database clock and runs the job again.
      const recovered = await waitUntil('the expired lease to be recovered', async () => {
        const jobs = await healthy.recoverExpired();
        return jobs.length > 0 ? jobs : undefined;
      });
      assert.equal(recovered[0]!.state, 'queued');
      const [again] = await waitUntil('the job to be claimable again', async () => {
        const c = await healthy.claim({ workerId: 'w-healthy', leaseMs: 30_000, limit: 1, tasks: { outage: 1 } });
        return c.length ? c : undefined;
      });
      assert.equal(again!.fence.attempt, 2);
      assert.notEqual(await healthy.finishAttempt(again!.fence, { outcome: 'succeeded', result: 'from the healthy worker' }), null);

      await proxy.up();
      // The cut worker retries with backoff until the store answers: its result is refused, nothing is recorded twice.
      const late = await retryUnavailable(() => cut.finishAttempt(mine.fence, { outcome: 'succeeded', result: 'late' }));
      assert.equal(late.value, null);
      assert.deepEqual((await cut.renewLeases('w-cut', [mine.fence], 1_000)).lost, [mine.fence]);
      const final = await healthy.get(r!.job.id);
      assert.equal(final!.state, 'succeeded');
      assert.equal(final!.result, 'from the healthy worker');
      const attempts = await healthy.attempts(r!.job.id);
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.workerId, a.outcome]),
        [
          [1, 'w-cut', 'crashed'],
          [2, 'w-healthy', 'succeeded'],
        ],
      );
      await waitUntil('the cut store to listen again', async () => cut.listening, 15_000);
    } finally {
      await proxy.down();
    }
  });

  it('a LISTEN that keeps failing is reported (listenFailing, listenStatus), and its recovery too', async () => {
    const base = new URL(BASE!);
    const proxy = new Proxy({ host: base.hostname, port: Number(base.port || 5432) });
    await proxy.up();
    try {
      const viaProxy = new URL(BASE!);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const store = await open(freshSchema(), viaProxy.toString());
      const events: StoreEvent[] = [];
      store.subscribe((e) => events.push(e));
      await store.whenListening();
      assert.deepEqual(store.listenStatus, { connected: true, consecutiveFailures: 0, failingSince: null, lastError: null });
      // The database stays unreachable for the LISTEN connection: every reconnection attempt is refused.
      await proxy.down();
      const failing = await waitUntil('listenFailing', async () => events.find((e) => e.type === 'listenFailing'));
      assert.ok(failing.type === 'listenFailing');
      assert.equal(failing.failures, 3);
      assert.match(failing.error, /ECONNREFUSED/);
      const status = store.listenStatus;
      assert.equal(status.connected, false);
      assert.ok(status.consecutiveFailures >= 3);
      assert.equal(status.failingSince, failing.since);
      await proxy.up();
      await waitUntil('listenRestored', async () => events.some((e) => e.type === 'listenRestored'), 15_000);
      assert.equal(store.listenStatus.consecutiveFailures, 0);
      assert.equal(store.listenStatus.connected, true);
    } finally {
      await proxy.down();
    }
  });

  it('upgrades a version-1 schema: the SQL copies of the next-state rules go, running jobs finish under version 2', async () => {
    const schema = freshSchema();
    await migrate(admin, schema, loadMigrations().slice(0, 1));
    const fns = async (): Promise<string[]> =>
      (await admin.query(`SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = $1 ORDER BY 1`, [schema])).rows.map((r) => r.proname as string);
    assert.ok((await fns()).includes('deadline_error'));
    await admin.query(
      `INSERT INTO "${schema}".jobs (task, state, input, retry, max_attempts, run_at, created_at, updated_at, attempts, lease_owner, lease_expires_at)
       VALUES ('up', 'running', '1', $1, 3, 0, 0, 0, 1, 'w-old', 9999999999999)`,
      [JSON.stringify({ maxAttempts: 3, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 })],
    );
    const [{ id }] = (await admin.query(`SELECT id::text FROM "${schema}".jobs`)).rows as Array<{ id: string }>;
    await admin.query(`INSERT INTO "${schema}".attempts (job_id, attempt, worker_id, started_at) VALUES ($1, 1, 'w-old', 0)`, [id]);
    const store = await open(schema);
    const versions = (await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)).rows.map((r) => r.version as number);
    assert.deepEqual(versions, loadMigrations().map((m) => m.version));
    const left = await fns();
    for (const gone of ['deadline_error', 'cancelled_error', 'iso_ms']) assert.ok(!left.includes(gone), `${gone} dropped`);
    const after = await store.finishAttempt({ jobId: id, attempt: 1, workerId: 'w-old' }, { outcome: 'timeout', error: { kind: 'timeout', message: 'slow' }, charged: true });
    assert.equal(after?.state, 'queued');
    assert.equal(after?.chargedAttempts, 1);
  });

  it('nextRunAt probes jobs_claim per task and priority, not every queued job (migration 012)', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    const before = await store.now();
    await store.enqueue(Array.from({ length: 20_000 }, (_, i) => job(`nr${i % 20}`, { input: i, delayMs: 60_000 + i })));
    await admin.query(`ANALYZE "${schema}".jobs`);
    const plan = await admin.query(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${NEXT_RUN_AT(`"${schema}"`)}`,
      [['nr1', 'nr2', 'nr3']],
    );
    const text = JSON.stringify(plan.rows[0]['QUERY PLAN']);
    assert.match(text, /"Index Name":"jobs_claim"/);
    // Every read of `jobs` is an index walk (the tiny task_pauses table may be scanned any way the planner likes).
    type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };
    const onJobs: string[] = [];
    const visit = (n: PlanNode): void => {
      if (n['Relation Name'] === 'jobs') onJobs.push(n['Node Type']);
      for (const c of n.Plans ?? []) visit(c);
    };
    for (const top of plan.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>) visit(top.Plan);
    assert.ok(onJobs.length > 0 && onJobs.every((t) => t === 'Index Scan' || t === 'Index Only Scan'), `reads of jobs: ${onJobs.join(', ')}`);
    const after = await store.now();
    const next = await store.nextRunAt(['nr1', 'nr2', 'nr3']);
    assert.ok(next !== null && next >= before + 60_001 && next <= after + 60_001, `nextRunAt ${next} for jobs enqueued in [${before}, ${after}]`);
  });

  it("claim's deadline sweep walks jobs_deadlines, never the task's queue", async () => {
    // Regression: offered `task = ANY($1)` as an index condition, the planner served the sweep of queued jobs past
    // their deadline from jobs_queued_run_at and filtered every queued job of the task on every claim (O(queue)
    // per claim: 2,000 rows removed by filter for one claim of a 5,000-job queue, bench/NOTES.md pgperf).
    const schema = freshSchema();
    const store = await open(schema);
    // No job has a deadline and the table was never analyzed (a new store, or autovacuum not around yet): the
    // planner then guesses, and must not be able to guess the whole queue.
    await admin.query(`ALTER TABLE "${schema}".jobs SET (autovacuum_enabled = false)`);
    await store.enqueue(Array.from({ length: 3_000 }, (_, i) => job('sweep', { input: i })));
    // The common claim runs the claim_jobs function (migration 010), whose statements EXPLAIN can not show: it must
    // read a handful of rows of jobs, not the queue (pg_stat_xact_* count what this transaction read).
    await admin.query('BEGIN');
    try {
      const claimed = await admin.query(`SELECT (job).id FROM "${schema}".claim_jobs('{sweep}', '{1}', 1, 'w', 30000, 500, 1)`);
      assert.equal(claimed.rows.length, 1);
      const read = await admin.query<{ n: string }>(
        `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relid = $1::regclass`,
        [`"${schema}".jobs`],
      );
      assert.ok(Number(read.rows[0]!.n) < 100, `one claim_jobs call read ${read.rows[0]!.n} rows of jobs`);
    } finally {
      await admin.query('ROLLBACK');
    }
    // A claim that also asks for a rate-limited task still sends the one statement: its plan is checked below.
    let claimSql: { text: string; values: unknown[] } | undefined;
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const a = args[0] as { text?: string; values?: unknown[] } | string;
      const text = typeof a === 'string' ? a : a?.text;
      const values = typeof a === 'string' ? (args[1] as unknown[] | undefined) : a?.values;
      if (text?.includes('claimed AS')) claimSql = { text, values: values ?? [] };
      return (original as (...x: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      assert.equal((await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { sweep: 1, limited: 1 }, rateLimits: { limited: { max: 1, perMs: 1_000 } } })).length, 1);
    } finally {
      pg.Client.prototype.query = original;
    }
    assert.ok(claimSql, 'the claim statement was seen');
    type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] };
    await admin.query('BEGIN');
    try {
      const plan = await admin.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${claimSql.text}`, claimSql.values);
      const reads: string[] = [];
      let removed = 0;
      const visit = (n: PlanNode): void => {
        // Bitmap index scans name their index but not the table; every jobs_* index is on jobs.
        if (n['Relation Name'] === 'jobs' || n['Index Name']?.startsWith('jobs_')) {
          reads.push(`${n['Node Type']} ${n['Index Name'] ?? ''}`.trim());
          removed += n['Rows Removed by Filter'] ?? 0;
        }
        for (const c of n.Plans ?? []) visit(c);
      };
      for (const top of plan.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>) visit(top.Plan);
      assert.ok(reads.some((r) => r.includes('jobs_deadlines')), `reads of jobs: ${reads.join(', ')}`);
      assert.ok(removed < 100, `one claim filtered ${removed} rows of jobs (reads: ${reads.join(', ')})`);
    } finally {
      await admin.query('ROLLBACK');
    }
  });

  it('workers of the previous version keep claiming after migration 013 (the old function signatures stay)', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    try {
      const [a, b] = (await store.enqueue([job('roll'), job('roll')])).map((r) => r.job);
      // The calls an older worker makes: claim_jobs with 6 arguments, finish_succeeded_claim with 10. Every row they
      // take starts at once (not held), as before.
      const old = await admin.query(`SELECT (job).id::text AS id, (job).held FROM "${schema}".claim_jobs('{roll}', '{1}', 1, 'w-old', 30000, 500)`);
      assert.deepEqual(old.rows, [{ id: a!.id, held: false }]);
      const fin = await admin.query(
        `SELECT fin, (job).id::text AS id, (job).state, (job).held
           FROM "${schema}".finish_succeeded_claim('{${a!.id}}', '{1}', '{w-old}', '{"1"}', '{roll}', '{1}', 1, 'w-old', 30000, 500)`,
      );
      assert.deepEqual(fin.rows, [
        { fin: true, id: a!.id, state: 'succeeded', held: false },
        { fin: false, id: b!.id, state: 'running', held: false },
      ]);
    } finally {
      await store.close();
    }
  });

  it("a job's attempts and logs are deleted with it by a statement trigger, not by foreign keys checked on every insert (migration 014)", async () => {
    const schema = freshSchema();
    const store = await open(schema);
    try {
      // No foreign key left on the tables every claim and log line insert into: their check was one query per row.
      const fks = await admin.query(
        `SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('"${schema}".attempts'::regclass, '"${schema}".logs'::regclass)`,
      );
      assert.deepEqual(fks.rows, []);
      await store.enqueue([job('cascade'), job('cascade'), job('cascade')]);
      const claimed = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 3, tasks: { cascade: 3 } });
      assert.equal(claimed.length, 3);
      await store.appendLogs(claimed.map((c) => ({ fence: c.fence, ts: Date.now(), stream: 'stdout' as const, line: `line of ${c.job.id}` })));
      for (const c of claimed) await store.finishAttempt(c.fence, { outcome: 'succeeded', result: null });
      const [a, b, c] = claimed.map((x) => x.job.id);
      const left = async (): Promise<{ attempts: string[]; logs: string[] }> => ({
        attempts: (await admin.query(`SELECT job_id::text AS id FROM "${schema}".attempts ORDER BY job_id`)).rows.map((r: { id: string }) => r.id),
        logs: (await admin.query(`SELECT job_id::text AS id FROM "${schema}".logs ORDER BY job_id`)).rows.map((r: { id: string }) => r.id),
      });
      assert.deepEqual(await left(), { attempts: [a, b, c], logs: [a, b, c] });
      // Whoever deletes a job (here a DBA's DELETE), its attempts and logs go with it, and only its.
      await admin.query(`DELETE FROM "${schema}".jobs WHERE id = $1`, [a]);
      assert.deepEqual(await left(), { attempts: [b, c], logs: [b, c] });
      // Retention deletes the rest the same way.
      const pruned = await store.prune({ finishedBefore: Date.now() + 60_000, states: ['succeeded'], limit: 10 });
      assert.equal(pruned.count, 2);
      assert.deepEqual(await left(), { attempts: [], logs: [] });
    } finally {
      await store.close();
    }
  });

  it("a worker's writes on several job rows lock them in id order: no deadlock with a batch of finishes (renewals, heartbeats, log lines)", async () => {
    const schema = freshSchema();
    const store = await open(schema);
    // A busy table (2,000 running jobs of another worker, analyzed): the planner then joins an UPDATE … FROM
    // unnest(…) row by row in the order of the list, not through a scan of the few running rows in id order.
    await runningElsewhere(store, 2_000);
    await store.enqueue([job('order'), job('order')]);
    const claimed = await store.claim({ workerId: 'w', leaseMs: 60_000, limit: 2, tasks: { order: 2 } });
    assert.equal(claimed.length, 2);
    await admin.query(`ANALYZE "${schema}".jobs`);
    const [low, high] = claimed.map((c) => c.fence).sort((x, y) => Number(x.jobId) - Number(y.jobId)) as [Fence, Fence];
    // Each write is handed its rows highest id first.
    const writes: Array<[string, () => Promise<unknown>]> = [
      ['lease renewal', () => store.renewLeases('w', [high, low], 60_000)],
      ['heartbeats', () => store.recordActivity([high, low].map((fence) => ({ fence, heartbeatAt: Date.now() })))],
      ['log lines', () => store.appendLogs([high, low].map((fence) => ({ fence, ts: Date.now(), stream: 'stdout' as const, line: 'x' })))],
    ];
    for (const [what, write] of writes) await holdsNothingWhileWaiting(schema, low.jobId, high.jobId, what, write);
    const renewed = await store.renewLeases('w', [high, low], 60_000);
    assert.deepEqual(renewed.lost, []);
    assert.equal((await store.logs(low.jobId)).length, 1);
    assert.equal((await store.logs(high.jobId)).length, 1);
    const beats = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".jobs WHERE last_heartbeat_at IS NOT NULL`);
    assert.equal(beats.rows[0].n, 2);
  });

  it('cancelling a job tree locks its rows in id order too: no deadlock with a batch of finishes', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    await runningElsewhere(store, 2_000);
    const ids = (await store.enqueue(Array.from({ length: 50 }, () => job('tree')))).map((r) => r.job.id);
    assert.equal((await store.claim({ workerId: 'w', leaseMs: 60_000, limit: 50, tasks: { tree: 50 } })).length, 50);
    const low = ids[0]!;
    // The lowest row's newest version stored after others, as updates leave rows in a busy table: a cancel of 50 jobs
    // in a table of 2,050 is a hash join over a scan of the table, which meets those rows first.
    await admin.query(`UPDATE "${schema}".jobs SET updated_at = updated_at WHERE id = $1`, [low]);
    await admin.query(`ANALYZE "${schema}".jobs`);
    const stored = (await admin.query(`SELECT id::text AS id FROM "${schema}".jobs WHERE id = ANY($1::bigint[]) ORDER BY ctid`, [ids])).rows.map((r: { id: string }) => r.id);
    const high = stored[0]!;
    assert.notEqual(high, low, 'the setup must store another row of the tree before the lowest one');
    await holdsNothingWhileWaiting(schema, low, high, 'cancel', () => store.cancel([...ids].reverse(), 'stop'));
    const renewed = await store.renewLeases('w', (await store.getMany(ids)).map((j) => ({ jobId: j.id, attempt: j.attempts, workerId: 'w' })), 60_000);
    assert.equal(renewed.cancelRequested.length, 50);
  });

  it('a success needs nothing of the row to be decided (the one-statement finish relies on it)', () => {
    // finishSucceeded (src/store/postgres/attempts.ts) writes a success without reading the job row; that is only
    // right while nextState() decides a success the same way for every row and policy.
    const finish = { outcome: 'succeeded' as const, result: { r: 1 } };
    const rows = [
      { chargedAttempts: 0, deadlineAt: null, cancelRequested: false, cancelReason: null },
      { chargedAttempts: 4, deadlineAt: 1, cancelRequested: true, cancelReason: 'stop' },
      { chargedAttempts: 2, deadlineAt: 10_000_000, cancelRequested: false, cancelReason: null },
    ];
    const policies: RetryPolicy[] = [RETRY, { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 1 }];
    for (const row of rows) {
      for (const policy of policies) {
        for (const now of [0, 5_000, 20_000_000]) {
          const next = nextState(row, finish, policy, now, () => 0.5);
          assert.deepEqual(next, { state: 'succeeded', runAt: null, result: { r: 1 }, error: null, charged: true, chargedAttempts: row.chargedAttempts + 1 });
        }
      }
    }
  });

  it('a success finished in one statement leaves job and attempt exactly as the locked path would', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    const [a] = await store.enqueue([job('one', { input: 1 })]);
    const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { one: 1 } });
    assert.equal(c!.job.id, a!.job.id);
    await admin.query(`UPDATE "${schema}".jobs SET cancel_requested = true, cancel_reason = 'late' WHERE id = $1`, [c!.job.id]);
    const done = await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: { ok: true } });
    assert.equal(done?.state, 'succeeded', 'a success wins over a cancel requested meanwhile (rule 1)');
    assert.deepEqual(done?.result, { ok: true });
    assert.equal(done?.error, null);
    assert.equal(done?.chargedAttempts, 1);
    assert.equal(done?.leaseOwner, null);
    assert.ok(done?.finishedAt !== null);
    const [att] = await store.attempts(c!.job.id);
    assert.equal(att?.outcome, 'succeeded');
    assert.equal(att?.charged, true);
    assert.equal(att?.finishedAt, done?.finishedAt);
    // Stale and repeated fences change nothing.
    assert.equal(await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: 2 }), null);
    assert.equal(await store.finishAttempt({ ...c!.fence, workerId: 'other' }, { outcome: 'succeeded', result: 3 }), null);
    assert.deepEqual((await store.get(c!.job.id))?.result, { ok: true });
  });

  it('the finish functions (migration 011) read the fenced rows by key after the table grew past its statistics', async () => {
    // finish_succeeded plans per call (force_custom_plan) like claim_jobs: a plan fixed while the table was small
    // (what a prepared statement or PL/pgSQL's generic plan would keep for the session's life) sequentially scanned
    // the grown table (bench/pg-plan-growth.mts). Here the statistics say 20 rows while 3,000 are there; one
    // session calls the function more than five times on the small table, then once on the grown one, which must
    // read a handful of rows of jobs (pg_stat_xact_* count what a transaction read).
    const schema = freshSchema();
    const store = await open(schema);
    await admin.query(`ALTER TABLE "${schema}".jobs SET (autovacuum_enabled = false)`);
    await store.enqueue(Array.from({ length: 20 }, (_, i) => job('grow', { input: i })));
    await admin.query(`ANALYZE "${schema}".jobs`);
    const session = new pg.Client({ connectionString: BASE });
    await session.connect();
    const call = `SELECT f.fin, (f.job).id, (f.job).state
                    FROM "${schema}".finish_succeeded_claim($1, $2, $3, $4, '{grow}', '{1}', 1, 'w', 30000, 500, 1) f`;
    try {
      let [cur] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { grow: 1 } });
      for (let i = 0; i < 8; i++) {
        const r = await session.query(call, [[cur!.fence.jobId], [cur!.fence.attempt], ['w'], ['1']]);
        assert.deepEqual(r.rows.map((x) => [x.fin, x.state]), [[true, 'succeeded'], [false, 'running']]);
        cur = { job: cur!.job, fence: { ...cur!.fence, jobId: String(r.rows[1].id), attempt: 1 } };
      }
      await store.enqueue(Array.from({ length: 3_000 }, (_, i) => job('grow', { input: i })));
      const [other] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { grow: 1 } });
      // The session's counters include what it has not reported yet: read them before and after the call.
      const reads = async (): Promise<number> => {
        const r = await session.query<{ n: string }>(
          `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relid = $1::regclass`,
          [`"${schema}".jobs`],
        );
        return Number(r.rows[0]!.n);
      };
      await session.query('BEGIN');
      const before = await reads();
      const fin = await session.query(call, [[cur!.fence.jobId, other!.fence.jobId], [1, 1], ['w', 'stale'], ['1', '2']]);
      const read = (await reads()) - before;
      // `other`'s fence names another worker: fenced out. cur finished, and one job claimed.
      assert.deepEqual(fin.rows.map((r) => [r.fin, r.state]), [[true, 'succeeded'], [false, 'running']]);
      assert.equal(String(fin.rows[0].id), cur!.fence.jobId);
      assert.ok(read < 100, `one finish_succeeded_claim call read ${read} rows of jobs`);
      await session.query('ROLLBACK');
    } finally {
      await session.end();
    }
  });

  it('the hot statements are prepared, and only bare calls of the store functions are', async () => {
    // A prepared statement keeps its plan for the connection's life: only a call of a function (whose own
    // statements plan per call) may be one (db.ts). Claim, finish and finish+claim are prepared.
    const schema = freshSchema();
    const store = await open(schema);
    await store.enqueue(Array.from({ length: 4 }, (_, i) => job('prep', { input: i })));
    const named: string[] = [];
    const restore = spyQueries((q) => {
      if (q.name) named.push(q.text.replace(/\s+/g, ' '));
    });
    try {
      const req = { workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { prep: 1 } };
      const [c1] = await store.claim(req);
      const [, [c2]] = await Promise.all([store.finishAttempt(c1!.fence, { outcome: 'succeeded', result: 1 }), store.claim(req)]);
      await store.finishAttempt(c2!.fence, { outcome: 'succeeded', result: 2 });
      await store.enqueue([job('prep', { input: 9 })]);
      await store.counts();
    } finally {
      restore();
    }
    assert.equal(named.length, 3, named.join(' | '));
    for (const text of named) assert.match(text, /^SELECT [^;]* FROM "[^"]+"\.(claim_jobs|finish_succeeded|finish_succeeded_claim)\(\$1::[^;]*\) [cf]$/);
  });

  it('a bulk enqueue without keys is a plain INSERT; a batch with keys still answers the existing jobs', async () => {
    // No idempotency key and no child key in the batch: no row can conflict (the unique indexes are partial on
    // those keys), so neither ON CONFLICT nor the look-ups of existing rows are sent.
    const schema = freshSchema();
    const store = await open(schema);
    const sent: string[] = [];
    const restore = spyQueries((q) => sent.push(q.text));
    let plain: Awaited<ReturnType<typeof store.enqueue>>;
    try {
      plain = await store.enqueue([
        ...Array.from({ length: 3 }, (_, i) => job('bulk', { input: i })),
        job('bulk', { input: { deep: [1, 'two', null] }, delayMs: 5_000, priority: -3, deadlineMs: 60_000 }),
        job('other', { input: null, retry: { ...RETRY, maxAttempts: 4 }, childKey: 'no parent, no key' }),
      ]);
    } finally {
      restore();
    }
    assert.equal(sent.length, 1);
    assert.doesNotMatch(sent[0]!, /ON CONFLICT/);
    assert.doesNotMatch(sent[0]!, /UNION ALL/);
    assert.deepEqual(plain.map((r) => r.created), [true, true, true, true, true]);
    for (const r of plain) assert.deepEqual(r.job, await store.get(r.job.id));
    const [parent] = await store.enqueue([job('bulk', { idempotencyKey: 'p', deadlineMs: 30_000 })]);
    // A parent without a child key is still keyless: the child's deadline is capped by its parent's.
    const [kid] = await store.enqueue([job('bulk', { parentId: parent!.job.id, deadlineMs: 600_000 })]);
    assert.deepEqual(kid!.job, await store.get(kid!.job.id));
    assert.equal(kid!.job.deadlineAt, parent!.job.deadlineAt);
    const again = await store.enqueue([
      job('bulk', { idempotencyKey: 'p' }),
      job('bulk', { parentId: parent!.job.id, childKey: 'c' }),
      job('bulk', { input: 'free' }),
    ]);
    assert.deepEqual(again.map((r) => r.created), [false, true, true]);
    assert.equal(again[0]!.job.id, parent!.job.id);
    const child = await store.enqueue([job('bulk', { parentId: parent!.job.id, childKey: 'c' }), job('bulk')]);
    assert.deepEqual(child.map((r) => r.created), [false, true]);
    assert.equal(child[0]!.job.id, again[1]!.job.id);
  });

  it('enqueue answers exactly the jobs a read gives back (new rows are filled in by the client)', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    const [parent] = await store.enqueue([job('tree', { input: { p: 1 }, deadlineMs: 60_000, priority: 3 })]);
    const batch = await store.enqueue([
      job('tree', { input: null, parentId: parent!.job.id, childKey: 'a', deadlineMs: 600_000 }),
      job('tree', { input: [1, 'two', { three: 3 }], delayMs: 5_000, priority: -2, idempotencyKey: 'k1' }),
      job('other', { input: 'text', retry: { ...RETRY, maxAttempts: 7 } }),
      job('tree', { input: { dup: true }, parentId: parent!.job.id, childKey: 'a' }),
    ]);
    assert.deepEqual(batch.map((b) => b.created), [true, true, true, false]);
    for (const b of [parent!, ...batch]) assert.deepEqual(b.job, await store.get(b.job.id));
    assert.equal(batch[0]!.job.deadlineAt, parent!.job.deadlineAt, "a child's deadline is capped by its parent's");
    assert.equal(batch[3]!.job.id, batch[0]!.job.id);
  });

  it('a success and the claim asked in the same turn travel in one statement (one commit per job at C=1)', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    await store.enqueue([job('pair', { input: 1 }), job('pair', { input: 2 }), job('pair', { input: 3 })]);
    const req = { workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { pair: 1 } };
    const [first] = await store.claim(req);
    const sent: string[] = [];
    const restore = spyQueries((q) => sent.push(q.text));
    let done: Awaited<ReturnType<typeof store.finishAttempt>>;
    let next: Awaited<ReturnType<typeof store.claim>>;
    let stale: Awaited<ReturnType<typeof store.finishAttempt>>;
    let third: Awaited<ReturnType<typeof store.claim>>;
    try {
      [done, next] = await Promise.all([store.finishAttempt(first!.fence, { outcome: 'succeeded', result: 'one' }), store.claim(req)]);
      assert.equal(sent.length, 1, `statements: ${sent.map((t) => t.replace(/\s+/g, ' ').slice(0, 60)).join(' | ')}`);
      // A stale fence in the same statement changes nothing, and the claim still goes through.
      [stale, third] = await Promise.all([store.finishAttempt(first!.fence, { outcome: 'succeeded', result: 'again' }), store.claim(req)]);
    } finally {
      restore();
    }
    assert.equal(done?.state, 'succeeded');
    assert.deepEqual(done?.result, 'one');
    assert.equal(next.length, 1);
    assert.deepEqual(next[0]!.job.input, 2);
    assert.equal(next[0]!.job.state, 'running');
    assert.deepEqual(next[0]!.fence, { jobId: next[0]!.job.id, attempt: 1, workerId: 'w' });
    assert.equal(stale, null);
    assert.deepEqual((await store.get(first!.job.id))?.result, 'one');
    assert.deepEqual(third.map((c) => c.job.input), [3]);
    const [att] = await store.attempts(next[0]!.job.id);
    assert.equal(att?.finishedAt, null, 'the claimed job has its open attempt row');
    // Nothing left: the pair answers the finish and an empty claim.
    const [last, none] = await Promise.all([store.finishAttempt(next[0]!.fence, { outcome: 'succeeded', result: 2 }), store.claim(req)]);
    assert.equal(last?.state, 'succeeded');
    assert.deepEqual(none, []);
  });

  it('a claim whose batch partner fails is not failed with it', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    await store.enqueue([job('part', { input: 1 }), job('part', { input: 2 })]);
    const req = { workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { part: 1 } };
    const [first] = await store.claim(req);
    // The database refuses this one result: the combined statement fails as a whole (nothing of it committed),
    // then each item is written alone, so the claim still succeeds and only the finish fails.
    await admin.query(`CREATE FUNCTION "${schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`);
    await admin.query(`CREATE TRIGGER refuse BEFORE UPDATE ON "${schema}".jobs FOR EACH ROW WHEN (NEW.result = '"boom"') EXECUTE FUNCTION "${schema}".refuse()`);
    const [fin, claimed] = await Promise.allSettled([
      store.finishAttempt(first!.fence, { outcome: 'succeeded', result: 'boom' }),
      store.claim(req),
    ]);
    assert.equal(fin.status, 'rejected');
    assert.equal(claimed.status, 'fulfilled');
    const got = claimed.status === 'fulfilled' ? claimed.value : [];
    assert.deepEqual(got.map((c) => c.job.input), [2]);
    assert.equal((await store.get(first!.job.id))?.state, 'running', 'the refused finish left its job as it was');
    assert.equal((await store.get(got[0]!.job.id))?.state, 'running');
    // The claimed job is this caller's: its finish goes through.
    assert.equal((await store.finishAttempt(got[0]!.fence, { outcome: 'succeeded', result: 'fine' }))?.state, 'succeeded');
  });

  it('a batch mixing successes and failures is one transaction, each job decided as alone', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    await store.enqueue([job('mix', { input: 1 }), job('mix', { input: 2 }), job('mix', { input: 3 })]);
    const claimed = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 3, tasks: { mix: 3 } });
    assert.equal(claimed.length, 3);
    // Submitted in one turn: the group commit writes them as one batch.
    const [ok, retried, failed] = await Promise.all([
      store.finishAttempt(claimed[0]!.fence, { outcome: 'succeeded', result: 'r' }),
      store.finishAttempt(claimed[1]!.fence, { outcome: 'error', error: { kind: 'error', message: 'again' }, charged: true }),
      store.finishAttempt(claimed[2]!.fence, { outcome: 'error', error: { kind: 'error', message: 'no', retryable: false }, charged: true }),
    ]);
    assert.equal(ok?.state, 'succeeded');
    assert.equal(retried?.state, 'queued');
    assert.equal(retried?.chargedAttempts, 1);
    assert.equal(failed?.state, 'failed');
    const outcomes = await Promise.all(claimed.map(async (c) => (await store.attempts(c.job.id))[0]?.outcome));
    assert.deepEqual(outcomes, ['succeeded', 'error', 'error']);
  });

  it("uses the database's clock for leases, not the worker's", async () => {
    const schema = freshSchema();
    const skewed = await open(schema);
    const other = await open(schema);
    const dbNow = Number((await admin.query('SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS t')).rows[0].t);
    assert.ok(Math.abs((await skewed.now()) - dbNow) < 1_000);
    await skewed.enqueue([job('clock')]);
    const realNow = Date.now;
    // This worker's clock is an hour ahead (and then an hour behind): leases must not care.
    Date.now = () => realNow() + 3_600_000;
    let claimed;
    try {
      [claimed] = await skewed.claim({ workerId: 'w-skew', leaseMs: 2_000, limit: 1, tasks: { clock: 1 } });
    } finally {
      Date.now = realNow;
    }
    assert.ok(claimed);
    const storeNow = await other.now();
    const remaining = claimed.job.leaseExpiresAt! - storeNow;
    assert.ok(remaining > 0 && remaining <= 2_000, `lease ends ${remaining} ms from the store's now`);
    assert.deepEqual(await other.recoverExpired(), []);
    Date.now = () => realNow() - 3_600_000;
    try {
      assert.deepEqual((await skewed.renewLeases('w-skew', [claimed.fence], 2_000)).lost, []);
    } finally {
      Date.now = realNow;
    }
    // An expired lease (on the DB clock) is expired for everyone, whatever their own clocks say.
    await admin.query(`UPDATE "${schema}".jobs SET lease_expires_at = "${schema}".now_ms() - 1 WHERE id = $1`, [claimed.job.id]);
    assert.deepEqual((await skewed.renewLeases('w-skew', [claimed.fence], 2_000)).lost, [claimed.fence]);
    const [rec] = await other.recoverExpired();
    assert.equal(rec!.id, claimed.job.id);
  });

  it('claims with SKIP LOCKED: concurrent workers never take the same job', async () => {
    const schema = freshSchema();
    const workers = await Promise.all(Array.from({ length: 4 }, () => open(schema)));
    await workers[0]!.enqueue(Array.from({ length: 400 }, (_, i) => job('race', { input: i })));
    const taken = new Map<string, string>();
    await Promise.all(
      workers.map(async (w, i) => {
        for (;;) {
          const batch = await w.claim({ workerId: `w${i}`, leaseMs: 30_000, limit: 7, tasks: { race: 7 } });
          if (batch.length === 0) return;
          for (const c of batch) {
            assert.equal(taken.get(c.job.id), undefined, `job ${c.job.id} claimed twice`);
            taken.set(c.job.id, `w${i}`);
          }
        }
      }),
    );
    assert.equal(taken.size, 400);
    assert.equal((await workers[0]!.counts()).running, 400);
  });

  it('throughput: enqueue and claim+finish cost a fixed number of round trips, whatever the batch size', async (t) => {
    // Every statement any pooled client sends, counted: a store operation that hides a round trip per job in a
    // loop (the graphile-worker lesson) fails here, however fast the machine is. Throughput is only reported.
    let statements = 0;
    const schema = freshSchema();
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client & { connectionParameters: { application_name?: string } }, ...args: unknown[]) {
      // Only this test's stores (their application_name names the schema): other tests' stores may still be busy.
      if (this.connectionParameters.application_name?.includes(schema)) statements++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      const store = await open(schema);
      const N = 10_000;
      statements = 0;
      let t0 = performance.now();
      const res = await store.enqueue(Array.from({ length: N }, (_, i) => job('bench', { input: { i } })));
      const enqueueMs = performance.now() - t0;
      assert.equal(res.length, N);
      assert.ok(res.every((r) => r.created));
      assert.equal(statements, 1, `enqueue of ${N} jobs took ${statements} statements`);
      t.diagnostic(`enqueue: ${N} jobs in one batch: ${enqueueMs.toFixed(0)} ms (${Math.round(N / (enqueueMs / 1000))} jobs/s)`);

      // Four workers on separate stores (separate pools), each claiming batches of 25 and finishing every job.
      const M = 3_000;
      const workers = await Promise.all(Array.from({ length: 4 }, () => open(schema)));
      let done = 0;
      let claims = 0;
      let finishes = 0;
      statements = 0;
      t0 = performance.now();
      await Promise.all(
        workers.map(async (w, i) => {
          while (done < M) {
            claims++;
            const batch = await w.claim({ workerId: `b${i}`, leaseMs: 60_000, limit: 25, tasks: { bench: 25 } });
            if (batch.length === 0) return;
            finishes += batch.length;
            const after = await Promise.all(batch.map((c) => w.finishAttempt(c.fence, { outcome: 'succeeded', result: c.job.input })));
            assert.ok(after.every((j, k) => j?.state === 'succeeded' && j.id === batch[k]!.job.id));
            done += batch.length;
          }
        }),
      );
      const claimMs = performance.now() - t0;
      // A claim is one statement; successes are one statement per group-committed batch (a failure would be one
      // transaction of four: BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT).
      assert.ok(statements <= claims + finishes, `${statements} statements for ${claims} claims and ${finishes} finishes`);
      t.diagnostic(`claim+finish: ${done} jobs in ${claimMs.toFixed(0)} ms (${Math.round(done / (claimMs / 1000))} jobs/s, 4 workers, batches of 25; ${statements} statements)`);
      assert.equal((await store.counts()).succeeded, done);
      const sample = await store.attempts(res[0]!.job.id);
      assert.ok(sample.length <= 1, 'no job was claimed twice');
    } finally {
      pg.Client.prototype.query = original;
    }
  });
});
