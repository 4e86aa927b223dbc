import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Store } from './contract.js';

/** DESIGN §4: the store used when neither --store nor VIGIL_STORE says otherwise. */
export const DEFAULT_STORE_URL = 'sqlite:./vigil.db';

const ACCEPTED = 'sqlite:PATH (e.g. sqlite:./vigil.db), a path ending in .db (e.g. ./jobs.db), or postgres://user@host:5432/db[?schema=NAME]';

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** The --store flag, else $VIGIL_STORE, else the default. Empty strings count as unset. */
export function storeUrlFromEnv(flag?: string): string {
  if (flag !== undefined && flag.trim() !== '') return flag.trim();
  const env = process.env.VIGIL_STORE;
  if (env !== undefined && env.trim() !== '') return env.trim();
  return DEFAULT_STORE_URL;
}

/** Parses a store URL (DESIGN §6) without opening anything. Throws UsageError VIGIL_STORE_URL for anything else. */
export function parseStoreUrl(url: string): StoreLocation {
  const u = typeof url === 'string' ? url.trim() : '';
  if (/^postgres(ql)?:\/\//i.test(u)) return { kind: 'postgres', url: u };
  if (/^sqlite:/i.test(u)) {
    // `sqlite:///abs/file.db` and `sqlite://./file.db` are common spellings of `sqlite:/abs/file.db`.
    const path = u.slice('sqlite:'.length).replace(/^\/\/(?=[/.~]|[A-Za-z]:)/, '');
    if (path === '') throw new UsageError('VIGIL_STORE_URL', `the store URL "${u}" names no file; accepted forms: ${ACCEPTED}`);
    return { kind: 'sqlite', path: expandHome(path) };
  }
  if (/\.db$/i.test(u) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) return { kind: 'sqlite', path: expandHome(u) };
  throw new UsageError('VIGIL_STORE_URL', `unsupported store URL ${JSON.stringify(url)}; accepted forms: ${ACCEPTED}`);
}

function expandHome(path: string): string {
  return path.startsWith('~/') && process.env.HOME ? process.env.HOME + path.slice(1) : path;
}

/**
 * Opens the store a URL names: SQLite (relative paths from the current directory) or PostgreSQL. The PostgreSQL
 * driver is loaded only when asked for, so SQLite users never pay for it.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const loc = parseStoreUrl(url);
  if (options.create === false) await mustExist(loc);
  if (loc.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return SqliteStore.open(loc.path);
  }
  const { openPostgresStore } = (await import('./postgres/postgres-store.js')) as {
    openPostgresStore(url: string): Promise<Store>;
  };
  return openPostgresStore(loc.url);
}

export interface OpenStoreOptions {
  /**
   * false: fail with VIGIL_STORE_NOT_FOUND when the SQLite file or PostgreSQL schema does not exist, instead of
   * creating it. For commands that only read: an empty store made from a typo looks exactly like lost jobs.
   */
  create?: boolean;
}

async function mustExist(loc: StoreLocation): Promise<void> {
  const hint = 'this command only reads, so it creates nothing; check --store / $VIGIL_STORE (a worker, submit or run creates the store)';
  if (loc.kind === 'sqlite') {
    if (loc.path === ':memory:' || existsSync(loc.path)) return;
    throw new UsageError('VIGIL_STORE_NOT_FOUND', `there is no store at ${loc.path}: ${hint}`);
  }
  const { postgresSchemaExists } = await import('./postgres/exists.js');
  const { exists, description } = await postgresSchemaExists(loc.url);
  if (!exists) throw new UsageError('VIGIL_STORE_NOT_FOUND', `there is no Vigil store in ${description} (the schema has no Vigil tables): ${hint}`);
}
