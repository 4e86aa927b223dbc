import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './connection.js';
import { askToStop, SMALL_THREAD_LIMITS } from '../../background-threads.js';

/**
 * WAL checkpoints off the supervisor's event loop. SQLite runs an automatic checkpoint inside the COMMIT that makes
 * the WAL pass 1000 pages — copying pages and fsyncing synchronously, on whichever connection commits: under four
 * writer processes that was the supervisor's loop, for up to ~400 ms at a time. So the store's own connection does
 * not checkpoint; a thread with its own connection runs a PASSIVE checkpoint (never waits for readers or writers)
 * every CHECKPOINT_MS. If the thread can not run, the connection checkpoints itself again, as before.
 */

const CHECKPOINT_MS = 500;

const CODE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 50');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.everyMs);
parentPort.once('message', () => { clearInterval(timer); try { db.close(); } catch {} parentPort.close(); });
`;

export class Checkpointer {
  private readonly worker: Worker | null;

  constructor(db: Db, path: string) {
    if (path === ':memory:') {
      this.worker = null;
      return;
    }
    let worker: Worker | null = null;
    try {
      const driver = createRequire(import.meta.url).resolve('better-sqlite3');
      worker = new Worker(CODE, { eval: true, workerData: { driver, path, everyMs: CHECKPOINT_MS }, stdout: false, stderr: false, resourceLimits: SMALL_THREAD_LIMITS });
      worker.unref();
      db.pragma('wal_autocheckpoint = 0');
      worker.once('error', () => this.fallback(db));
      worker.once('exit', () => this.fallback(db));
    } catch {
      worker = null;
    }
    this.worker = worker;
  }

  private fallback(db: Db): void {
    try {
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    } catch {
      // Closed meanwhile.
    }
  }

  /** Waits for the thread's last checkpoint and its connection's close (never terminate(): see askToStop). */
  async close(): Promise<void> {
    if (!this.worker) return;
    this.worker.removeAllListeners('exit');
    await askToStop(this.worker, null, 'close', 2_000);
  }
}
