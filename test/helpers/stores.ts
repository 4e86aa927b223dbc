import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Store } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open.js';

/**
 * The stores the contract suite runs against. SQLite always; PostgreSQL when VIGIL_TEST_PG_URL is set (each
 * location gets its own fresh schema, dropped by cleanup), otherwise the factory says why it is skipped.
 */
export interface StoreFactory {
  name: 'sqlite' | 'postgres';
  /** A reason to skip this store's tests, or false. */
  skip: string | false;
  /** A new, empty store location (a temp SQLite file, a fresh PostgreSQL schema). */
  create(): Promise<StoreLocation>;
}

export interface StoreLocation {
  /** The store URL, usable with openStore() or in a child process. */
  url: string;
  /** A new Store instance on this location; call it twice for two "workers" sharing one store. */
  open(): Promise<Store>;
  /** Closes every instance opened here and deletes the location. */
  cleanup(): Promise<void>;
}

export function storeFactories(): StoreFactory[] {
  return [sqliteFactory(), postgresFactory()];
}

function tracked(url: string, drop: () => Promise<void>): StoreLocation {
  const opened: Store[] = [];
  return {
    url,
    async open() {
      const s = await openStore(url);
      opened.push(s);
      return s;
    },
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
      await drop();
    },
  };
}

export function sqliteFactory(): StoreFactory {
  return {
    name: 'sqlite',
    skip: false,
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-store-test-'));
      return tracked(`sqlite:${join(dir, 'vigil.db')}`, async () => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

export function postgresFactory(): StoreFactory {
  const base = process.env.VIGIL_TEST_PG_URL;
  return {
    name: 'postgres',
    skip: base ? false : 'VIGIL_TEST_PG_URL not set',
    async create() {
      if (!base) throw new Error('VIGIL_TEST_PG_URL not set');
      const schema = `vigil_test_${randomBytes(6).toString('hex')}`;
      const url = `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
      return tracked(url, async () => {
        const client = new pg.Client({ connectionString: base });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await client.end();
        }
      });
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5_000, everyMs = 10): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
