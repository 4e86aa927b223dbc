// node-postgres reports some connection failures by message text only (no code). Vigil reads that text in one
// place (pgMessageMeansUnavailable in src/store/postgres/db.ts); here each text is provoked FOR REAL with the
// installed driver, so a pg upgrade that rewords one fails this test instead of turning outages into internal errors.
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { StoreUnavailableError } from '../src/errors.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { isUnavailable, PG_UNAVAILABLE_MESSAGES, pgMessageMeansUnavailable } from '../src/store/postgres/db.js';

const BASE = process.env.VIGIL_TEST_PG_URL;

/** A TCP server that accepts connections and never answers (a hung database or a black-holed route). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A proxy to the database whose connections can be cut at any moment. */
async function cuttable(target: URL): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function failure(run: () => Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await run();
  } catch (err) {
    return err as Error & { code?: unknown };
  }
  assert.fail('expected the driver to fail');
}

/** The provoked error carries `text`, no code that would have classified it anyway, and counts as an outage. */
function check(err: Error & { code?: unknown }, text: (typeof PG_UNAVAILABLE_MESSAGES)[number]): void {
  assert.ok(err.message.includes(text), `pg's message is now ${JSON.stringify(err.message)}; update PG_UNAVAILABLE_MESSAGES`);
  assert.equal(pgMessageMeansUnavailable(err.message), true);
  assert.equal(isUnavailable(err), true);
}

describe('node-postgres failure texts, provoked for real', { skip: BASE ? false : 'VIGIL_TEST_PG_URL not set' }, () => {
  const covered = new Set<string>();
  let silent: Awaited<ReturnType<typeof silentServer>>;
  before(async () => {
    silent = await silentServer();
  });
  after(async () => {
    await silent.close();
    assert.deepEqual([...covered].sort(), [...PG_UNAVAILABLE_MESSAGES].sort(), 'every text has a test');
  });

  it('"Connection terminated": the connection drops mid-query', async () => {
    const proxy = await cuttable(new URL(BASE!));
    const client = new pg.Client({ connectionString: proxy.url });
    client.on('error', () => undefined);
    await client.connect();
    const err = await failure(async () => {
      const q = client.query('SELECT pg_sleep(10)');
      setTimeout(() => proxy.cut(), 100);
      await q;
    });
    check(err, 'Connection terminated');
    covered.add('Connection terminated');

    // "not queryable": the same client used again after its connection error.
    check(await failure(() => client.query('SELECT 1')), 'not queryable');
    covered.add('not queryable');
    await client.end().catch(() => undefined);
    await proxy.close();
  });

  it('"connection timeout" (pool) and "timeout expired" (client): the server accepts and never answers', async () => {
    const config = { host: '127.0.0.1', port: silent.port, user: 'x', database: 'x', connectionTimeoutMillis: 200 };
    const pool = new pg.Pool(config);
    pool.on('error', () => undefined);
    check(await failure(() => pool.query('SELECT 1')), 'connection timeout');
    covered.add('connection timeout');
    await pool.end();
    const client = new pg.Client(config);
    client.on('error', () => undefined);
    check(await failure(() => client.connect()), 'timeout expired');
    covered.add('timeout expired');
  });

  it('"timeout exceeded when trying to connect": the pool stays exhausted', async () => {
    const pool = new pg.Pool({ connectionString: BASE, max: 1, connectionTimeoutMillis: 200 });
    const held = await pool.connect();
    check(await failure(() => pool.connect()), 'timeout exceeded when trying to connect');
    covered.add('timeout exceeded when trying to connect');
    held.release();
    await pool.end();
  });

  it('"Query read timeout": a query outlives query_timeout', async () => {
    const client = new pg.Client({ connectionString: BASE, query_timeout: 100 });
    client.on('error', () => undefined);
    await client.connect();
    check(await failure(() => client.query('SELECT pg_sleep(2)')), 'Query read timeout');
    covered.add('Query read timeout');
    await client.end().catch(() => undefined);
  });

  it('"Client was closed": a query after end()', async () => {
    const client = new pg.Client({ connectionString: BASE });
    await client.connect();
    await client.end();
    check(await failure(() => client.query('SELECT 1')), 'Client was closed');
    covered.add('Client was closed');
  });

  it('"Cannot use a pool after calling end": a query on an ended pool', async () => {
    const pool = new pg.Pool({ connectionString: BASE });
    await pool.end();
    check(await failure(() => pool.query('SELECT 1')), 'Cannot use a pool after calling end');
    covered.add('Cannot use a pool after calling end');
  });

  it('opening a store on a database that never answers is StoreUnavailableError, not an internal error', async () => {
    const started = Date.now();
    await assert.rejects(openPostgresStore(`postgres://x@127.0.0.1:${silent.port}/x`), (e: unknown) => {
      assert.ok(e instanceof StoreUnavailableError, `got ${String(e)}`);
      return true;
    });
    assert.ok(Date.now() - started < 15_000);
  });

  it('a pooled connection killed by the server while checked out by code that does not listen does not crash the process', async () => {
    const schema = `vigil_errs_${Date.now().toString(36)}`;
    const url = `${BASE}${BASE!.includes('?') ? '&' : '?'}schema=${schema}`;
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/pg-checked-out-kill.ts', url], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `the process died: ${r.stderr.slice(-1_500)}`);
      assert.match(r.stdout, /alive/);
    } finally {
      const admin = new pg.Client({ connectionString: BASE });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });

  it('an ordinary SQL error is not an outage', async () => {
    const client = new pg.Client({ connectionString: BASE });
    await client.connect();
    const err = await failure(() => client.query('SELECT no_such_column FROM pg_class'));
    assert.equal(isUnavailable(err), false);
    await client.end();
  });
});
