import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../../errors.js';
export type Db = Database.Database;
/**
 * Opens (creating if needed) a Vigil SQLite file: WAL so readers never block the claimer, synchronous=NORMAL
 * (durable across process crashes; a power loss may drop the last transactions, never corrupt), busy_timeout so a
 * writer waits for another process's transaction instead of failing, foreign keys on. Then applies migrations.
 * Every failure becomes a StoreUnavailableError naming the path and what to do.
 */
export declare function openSqlite(path: string): Db;
/** Turns a driver error into a message that says what is wrong with the file and what to do. */
export declare function unavailable(path: string, err: unknown): StoreUnavailableError;
