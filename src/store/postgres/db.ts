import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreUnavailableError, VigilError, errorMessage } from '../../errors.js';

export type Row = Record<string, unknown>;

/**
 * One statement: on the pool (its own transaction) or inside a `tx`. `prepared`: send it as a named prepared
 * statement (parsed and planned once per connection) — ONLY for statements whose plan can not go wrong as the
 * tables grow, i.e. a bare call of one of the store's functions (see the Db comment below).
 */
export type Query = <R extends Row = Row>(sql: string, params?: unknown[], prepared?: boolean) => Promise<R[]>;

/**
 * What every store operation gets: one round trip, or one transaction. Operations never see the pool itself.
 *
 * Statements are deliberately NOT named prepared statements (node-postgres `name:`), although planning the claim or a
 * finish costs about as much as running it (~0.5 ms each): a prepared statement soon runs a generic plan fixed for
 * the connection's life, and plans fixed while the jobs table was small kept a sequential scan once it had grown —
 * 45 ms per finish and 76 ms per claim at 100,000 jobs, against under 1 ms with plans made for each call
 * (bench/pg-plan-growth.mts, bench/NOTES.md pgperf). The exception: `SELECT … FROM fn($1, …)` of a store function
 * (claim_jobs, finish_succeeded, finish_succeeded_claim), whose plan is a bare Function Scan; the function plans its
 * own statements per call (plan_cache_mode = force_custom_plan). Those are prepared (`prepared` = true).
 */
export interface Db {
  /** The quoted schema, to prefix table names. */
  readonly s: string;
  query<R extends Row = Row>(sql: string, params?: unknown[], prepared?: boolean): Promise<R[]>;
  /**
   * A read that may be repeated: it is retried once on a fresh connection when the first one turns out dead
   * (an idle pooled connection killed by a restart is only noticed when used).
   */
  read<R extends Row = Row>(sql: string, params?: unknown[]): Promise<R[]>;
  tx<T>(work: (q: Query) => Promise<T>): Promise<T>;
}

/** A prepared statement's name, from its text: one text, one name, on every connection of every pool. */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `vigil_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

function queryConfig(sql: string, params: unknown[] | undefined, prepared: boolean | undefined): pg.QueryConfig {
  return prepared ? { name: statementName(sql), text: sql, values: params } : { text: sql, values: params };
}

// SQLSTATE classes and codes that mean "the database went away", not "the query is wrong".
// 28000/28P01 (login refused, wrong password): a role disabled or a password rotated meanwhile is an outage to ride
// out and to report with the store's name, not an internal error.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '08000', '08001', '08003', '08004', '08006', '08007', '28000', '28P01']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
/**
 * node-postgres raises some connection failures with no code at all, only a message: these are the texts it uses
 * (pg 8). The ONLY place Vigil reads error text; test/postgres-errors.test.ts provokes each one for real, so a
 * driver upgrade that rewords one fails a test instead of silently turning an outage into an internal error.
 */
export const PG_UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  // A pool's connect that timed out ("Connection terminated due to connection timeout")…
  'connection timeout',
  // …and a bare Client's (the migrator, the LISTEN connection), which pg words differently.
  'timeout expired',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'not queryable',
  'Client was closed',
  'Cannot use a pool after calling end',
] as const;

export function pgMessageMeansUnavailable(message: string): boolean {
  return PG_UNAVAILABLE_MESSAGES.some((m) => message.includes(m));
}
/** Deadlocks and serialization failures: the transaction was rolled back, doing it again is safe. */
const RETRY_SQLSTATES = new Set(['40P01', '40001']);

export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATES.has(e.code) || UNAVAILABLE_ERRNOS.has(e.code))) return true;
  return typeof e.message === 'string' && pgMessageMeansUnavailable(e.message);
}

export function toStoreError(err: unknown, description: string): unknown {
  if (err instanceof VigilError) return err;
  if (isUnavailable(err)) {
    return new StoreUnavailableError(
      `PostgreSQL store ${description} is unavailable (${errorMessage(err)}); Vigil retries with backoff — check that the database is up and reachable`,
      err,
    );
  }
  return err;
}

export function createDb(pool: pg.Pool, schema: string, description: string): Db {
  const run = async <R extends Row>(sql: string, params: unknown[] | undefined, prepared?: boolean): Promise<R[]> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await pool.query<R>(queryConfig(sql, params, prepared));
        return res.rows;
      } catch (err) {
        if (attempt < 4 && isRetryable(err)) continue;
        throw toStoreError(err, description);
      }
    }
  };
  return {
    s: schema,
    query: run,
    async read<R extends Row>(sql: string, params?: unknown[]): Promise<R[]> {
      try {
        return await run<R>(sql, params);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        return run<R>(sql, params);
      }
    },
    async tx<T>(work: (q: Query) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (err) {
          throw toStoreError(err, description);
        }
        let broken: Error | undefined;
        // While checked out, a client has no pool listener: a server shutdown ("terminating connection due to
        // administrator command") emitted as 'error' with nobody listening would crash the worker.
        const onError = (err: Error): void => {
          broken = err;
        };
        client.on('error', onError);
        try {
          await client.query('BEGIN');
          const q = async <R extends Row = Row>(sql: string, params?: unknown[], prepared?: boolean): Promise<R[]> =>
            (await client.query<R>(queryConfig(sql, params, prepared))).rows;
          const out = await work(q);
          await client.query('COMMIT');
          return out;
        } catch (err) {
          if (isUnavailable(err)) {
            broken = err as Error;
          } else {
            await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
              broken = rollbackErr as Error;
            });
          }
          if (attempt < 4 && isRetryable(err)) continue;
          throw toStoreError(err, description);
        } finally {
          // A connection that failed mid-transaction is destroyed, never handed to the next caller.
          client.removeListener('error', onError);
          client.release(broken);
        }
      }
    },
  };
}

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRY_SQLSTATES.has(code);
}
