import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { stopAsked, stopThreadLoader } from '../../background-threads.js';
import { VigilError, errorMessage } from '../../errors.js';
import { BUSY_PATIENCE_MS, BUSY_SLICE_MS, retryWhileBusy } from './busy.js';
import { runHotOps, type HotOp } from './hot-ops.js';

/**
 * Entry of a SQLite store's writer thread (see HotWriter): its own connection to the store file runs the worker's
 * hot-path writes, so their statements and commits — half of the supervisor's CPU per job at concurrency 1 — run
 * beside the supervisor's event loop instead of on it.
 */
export interface WriterThreadData {
  path: string;
  /** Set when the store closes: a batch waiting for another process's lock gives up at its next try. */
  stop: Int32Array;
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

const { path, stop } = workerData as WriterThreadData;
const port = parentPort!;
const db = new Database(path, { fileMustExist: true });
// The same connection settings as the store's own (connection.ts). Waiting in SQLite's busy handler sleeps only this
// thread, but the slices keep the store's patience (BUSY_PATIENCE_MS) the same on both connections.
db.pragma(`busy_timeout = ${BUSY_SLICE_MS}`);
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');

// One transaction wrapper for the thread's life (a `db.transaction()` per batch built four functions each time).
const transaction = db.transaction((ops: HotOp[]) => runHotOps(db, ops, Date.now()));

port.postMessage({ id: 0, ready: true } satisfies WriterReply);

// One batch at a time: a batch waiting out another process's lock must not interleave a second transaction.
let queue: Promise<void> = Promise.resolve();

port.on('message', (m: unknown) => {
  if (m === 'close') {
    queue = queue
      .then(() => db.close())
      .then(stopThreadLoader)
      .finally(() => port.close());
    return;
  }
  // Anything else is a bug on the store's side of the protocol: the thread stops loudly (its 'error' reaches the store,
  // which fails what it had not answered and writes on without it) rather than drop a batch nobody will answer.
  if (!isBatch(m)) throw new Error(`the SQLite writer thread got a message it does not know (${typeof m === 'object' ? JSON.stringify(m)?.slice(0, 100) : String(m)})`);
  queue = queue.then(() => write(m.id, m.ops));
});

function isBatch(m: unknown): m is { id: number; ops: HotOp[] } {
  return typeof m === 'object' && m !== null && Number.isInteger((m as { id?: unknown }).id) && Array.isArray((m as { ops?: unknown }).ops);
}

async function write(id: number, ops: HotOp[]): Promise<void> {
  let reply: WriterReply;
  try {
    const r = await retryWhileBusy(() => transaction.immediate(ops), BUSY_PATIENCE_MS, Date.now, () => stopAsked(stop));
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
