import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { stopThreadLoader } from '../../background-threads.js';
import { VigilError, errorMessage } from '../../errors.js';
import { BUSY_SLICE_MS, retryWhileBusy } from './busy.js';
import { runHotOps, type HotOp } from './hot-ops.js';

/**
 * Entry of a SQLite store's writer thread (see HotWriter): its own connection to the store file runs the worker's
 * hot-path writes, so their statements and commits — half of the supervisor's CPU per job at concurrency 1 — run
 * beside the supervisor's event loop instead of on it.
 */
export interface WriterThreadData {
  path: string;
}

export type WriterRequest = { id: number; ops: HotOp[] } | 'close';

/** Only what rebuilds the error on the other side: a VigilError's code, or the driver's error code. */
export interface WriterFailure {
  vigilCode: string | null;
  code: string | null;
  name: string;
  message: string;
}

export type WriterReply =
  | { id: number; ok: true; value: unknown[]; events: unknown[] }
  | { id: number; ok: false; error: WriterFailure }
  /** The connection is open: batches may come here from now on. */
  | { id: 0; ready: true };

const { path } = workerData as WriterThreadData;
const port = parentPort!;
const db = new Database(path, { fileMustExist: true });
// The same connection settings as the store's own (connection.ts). Waiting in SQLite's busy handler sleeps only this
// thread, but the slices keep the store's patience (BUSY_PATIENCE_MS) the same on both connections.
db.pragma(`busy_timeout = ${BUSY_SLICE_MS}`);
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');

port.postMessage({ id: 0, ready: true } satisfies WriterReply);

// One batch at a time: a batch waiting out another process's lock must not interleave a second transaction.
let queue: Promise<void> = Promise.resolve();

port.on('message', (m: WriterRequest) => {
  if (m === 'close') {
    queue = queue
      .then(() => db.close())
      .then(stopThreadLoader)
      .finally(() => port.close());
    return;
  }
  queue = queue.then(() => write(m.id, m.ops));
});

async function write(id: number, ops: HotOp[]): Promise<void> {
  const tx = db.transaction(() => runHotOps(db, ops, Date.now()));
  let reply: WriterReply;
  try {
    const r = await retryWhileBusy(() => tx.immediate());
    reply = { id, ok: true, value: r.value, events: r.events };
  } catch (err) {
    reply = { id, ok: false, error: failure(err) };
  }
  port.postMessage(reply);
}

function failure(err: unknown): WriterFailure {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    vigilCode: err instanceof VigilError ? err.code : null,
    code: typeof code === 'string' ? code : null,
    name: err instanceof Error ? err.name : 'Error',
    message: errorMessage(err),
  };
}
