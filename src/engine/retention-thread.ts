import { parentPort, workerData } from 'node:worker_threads';
import { stopThreadLoader } from '../background-threads.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { RetentionSweeper, type TaskKeep } from './retention.js';
import type { ResolvedKeep } from '../task/define.js';

/**
 * Entry of the SQLite retention thread (see RetentionThread): its own connection to the store file, so deletes,
 * vacuum and the checkpoints (fsync) they trigger happen on this thread, never on the supervisor's event loop.
 */
export interface RetentionThreadData {
  path: string;
  taskKeeps: TaskKeep[];
  keep: ResolvedKeep | null;
  intervalMs?: number;
  firstDelayMs: number;
}

export type RetentionThreadMessage = { type: 'swept'; jobs: number; logs: number } | { type: 'error'; message: string };

const data = workerData as RetentionThreadData;
const store = await SqliteStore.open(data.path);
const sweeper = new RetentionSweeper({
  store,
  taskKeeps: data.taskKeeps,
  keep: data.keep,
  intervalMs: data.intervalMs,
  onError: (message, error) => parentPort!.postMessage({ type: 'error', message: `${message}: ${error instanceof Error ? error.message : String(error)}` } satisfies RetentionThreadMessage),
  onSwept: (r) => parentPort!.postMessage({ type: 'swept', ...r } satisfies RetentionThreadMessage),
});
sweeper.start(data.firstDelayMs);
parentPort!.on('message', (m: unknown) => {
  if (m === 'stop') {
    void sweeper
      .stop()
      .then(() => store.close())
      .then(stopThreadLoader)
      .finally(() => parentPort!.close());
  }
});
