import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreUnavailableError, VigilError, errorMessage } from '../../errors.js';
import { migrationsDir, readMigrations } from '../migrate.js';
import { BUSY_PATIENCE_MS, BUSY_SLICE_MS } from './busy.js';

export type Db = Database.Database;

// Opening (WAL switch, migrations) runs once, before any loop work exists: it may wait for the lock in SQLite.
const OPEN_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating if needed) a Vigil SQLite file: WAL so readers never block the claimer, synchronous=NORMAL
 * (durable across process crashes; a power loss may drop the last transactions, never corrupt), foreign keys on.
 * Then applies migrations, waiting up to 5 s in SQLite for another process's lock; after that, busy_timeout drops to
 * BUSY_SLICE_MS and the store waits for locks asynchronously (busy.ts), so a lock never blocks the event loop.
 * Every failure becomes a StoreUnavailableError naming the path and what to do.
 */
const WAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024;

export function openSqlite(path: string): Db {
  if (path !== ':memory:') checkLocation(path);
  let db: Db;
  try {
    db = new Database(path, { fileMustExist: false });
  } catch (err) {
    throw unavailable(path, err);
  }
  try {
    db.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
    // Only takes effect on a new, empty file: retention can then give freed pages back (PRAGMA incremental_vacuum).
    db.pragma('auto_vacuum = INCREMENTAL');
    setWal(db);
    db.pragma('synchronous = NORMAL');
    // SQLite reuses a WAL file at its largest size: after a retention sweep or a burst the -wal file stayed tens of
    // MiB on disk (61 MiB after sweeping 10,000 jobs from a 9.7 MiB store). With a limit it is cut back to this size
    // when the log restarts after a checkpoint.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    db.pragma(`busy_timeout = ${BUSY_SLICE_MS}`);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof VigilError) throw err;
    throw unavailable(path, err);
  }
}

function checkLocation(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) {
    throw new StoreUnavailableError(`cannot open the SQLite store ${path}: the directory ${dir} does not exist (create it, or pass another --store / VIGIL_STORE)`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new StoreUnavailableError(`cannot open the SQLite store ${path}: it is a directory (name a file, e.g. sqlite:${path.replace(/\/$/, '')}/vigil.db)`);
  }
}

/** What went wrong with the file, read from the driver's error CODE only (never its message text). */
export type SqliteTrouble = 'notADatabase' | 'permission' | 'busy' | 'corrupt' | 'disk' | 'other';

/**
 * better-sqlite3 sets SQLite's (extended) result code on every SqliteError, and Node's fs sets errno codes: matching
 * codes means a driver upgrade that rewords a message can not turn a known condition into an unknown one.
 */
export function sqliteTrouble(err: unknown): SqliteTrouble {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'other';
  if (code.startsWith('SQLITE_NOTADB')) return 'notADatabase';
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'permission';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code.startsWith('SQLITE_CORRUPT')) return 'corrupt';
  if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR') || code === 'ENOSPC' || code === 'EIO') return 'disk';
  return 'other';
}

/** Turns a driver error into a message that says what is wrong with the file and what to do. */
export function unavailable(path: string, err: unknown): StoreUnavailableError {
  const code = (err as { code?: unknown }).code;
  const msg = errorMessage(err);
  const advice = {
    notADatabase: 'the file exists but is not an SQLite database (point --store / VIGIL_STORE at another file)',
    permission: 'permission denied or read-only location (the file and its directory must be writable by this user: WAL needs the -wal and -shm files next to it)',
    busy: `the database stayed locked by another process for over ${BUSY_PATIENCE_MS / 1000}s (is a process stuck holding a write transaction? retry, or stop that process)`,
    corrupt: 'the database file is corrupt (restore it from a backup or start a new file)',
    disk: 'the disk is full or failing (free space and retry)',
    other: msg,
  }[sqliteTrouble(err)];
  return new StoreUnavailableError(`cannot use the SQLite store ${path}: ${advice} [${String(code ?? 'error')}: ${msg}]`, err);
}

/**
 * journal_mode=WAL takes an exclusive lock and, unlike ordinary statements, can fail with SQLITE_BUSY without going
 * through the busy handler when another process is switching the same new file at the same moment: retry, bounded.
 */
function setWal(db: Db): void {
  const until = Date.now() + OPEN_BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() === 'wal' || db.name === ':memory:') return;
      throw new Error(`journal_mode is ${String(mode)}, WAL could not be enabled`);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() > until) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/**
 * Applies the missing migrations in one BEGIN IMMEDIATE transaction: two processes opening the same new file at
 * once serialise on the write lock, and the second finds the schema already there.
 */
function migrate(db: Db, path: string): void {
  const migrations = readMigrations(migrationsDir('sqlite'));
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
    );
    const newest = Math.max(0, ...applied);
    const known = Math.max(0, ...migrations.map((m) => m.version));
    if (newest > known) {
      throw new StoreUnavailableError(
        `the SQLite store ${path} has schema version ${newest}, newer than this Vigil knows (${known}): upgrade Vigil, or use another store`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }
  });
  apply.immediate();
}
