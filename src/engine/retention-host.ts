import type { Worker } from 'node:worker_threads';
import { askToStop, BACKGROUND_THREAD_LIMITS, moduleThread } from '../background-threads.js';
import { BUSY_PATIENCE_MS } from '../store/sqlite/busy.js';
import type { RetentionThreadData, RetentionThreadMessage } from './retention-thread.js';

/**
 * The sweeper of a SQLite store, run in a worker thread with its own connection: better-sqlite3 is synchronous, so
 * on the supervisor's thread every batch — and the WAL checkpoint fsync a batch can trigger, hundreds of ms on a
 * busy disk — would block its event loop (DESIGN G8).
 */
export class RetentionThread {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(data: RetentionThreadData, onMessage: (m: RetentionThreadMessage) => void) {
    this.worker = moduleThread(new URL('./retention-thread', import.meta.url), { workerData: data, resourceLimits: BACKGROUND_THREAD_LIMITS });
    this.worker.on('message', onMessage);
    this.worker.on('error', (err) => onMessage({ type: 'error', message: `retention thread failed: ${err.message}` }));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // Background work: it must not keep a stopping process alive.
    this.worker.unref();
  }

  /** The sweep stops between batches, each bounded by the store's patience for a lock. Never terminate(): see askToStop. */
  async stop(): Promise<void> {
    await askToStop(this.worker, null, 'stop', BUSY_PATIENCE_MS + 5_000);
  }
}
