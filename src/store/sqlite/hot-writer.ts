import type { Worker } from 'node:worker_threads';
import type { Transaction } from 'better-sqlite3';
import { askToStop, BACKGROUND_THREAD_LIMITS, moduleThread, stopFlag } from '../../background-threads.js';
import { StoreUnavailableError, VigilError, type ErrorCode } from '../../errors.js';
import type { StoreEvent } from '../contract.js';
import { BUSY_PATIENCE_MS, retryWhileBusy } from './busy.js';
import type { Db } from './connection.js';
import { runHotOps, type HotOp } from './hot-ops.js';
import type { OpResult } from './jobs.js';
import type { WriterFailure, WriterReply, WriterRequest, WriterThreadData } from './writer-thread.js';

/**
 * Hot batches written on the store's connection before the thread starts: a store that writes a few (`vigil run` of
 * one job, a CLI command, most tests) never pays for a thread it would not use; a draining worker reaches this
 * within ~0.1 s.
 */
const THREAD_AFTER_BATCHES = 64;

/**
 * Where a batch goes follows how full the recent batches were (a moving average of items per batch): to the thread
 * from THREAD_ABOVE items on, back to the store's connection below HERE_BELOW, in between where the last one went.
 * Full batches are a worker writing as fast as it can (a drain), whose event loop the thread gives CPU back to.
 * Batches of one are work one job at a time, for which each batch's two thread wake-ups are pure delay:
 * enqueue→start p99 went 3-4 → 8 ms, enqueue→done p99 6 → 16-17 ms with every batch on the thread (bench/NOTES.md).
 * Going by the event loop's utilisation did not tell the two apart: 0.5-0.95 in both.
 */
const THREAD_ABOVE = 3;
const HERE_BELOW = 2;

/**
 * Writes the worker's hot-path batches (claims, finishes, renewals, heartbeats, logs: hot-ops.ts), each as one
 * BEGIN IMMEDIATE transaction. On a store file with the real clock they run on a thread of their own with its own
 * connection (writer-thread.ts), so the supervisor's event loop spends no time in their statements and commits: at
 * concurrency 1 those were half of its CPU per job (bench/NOTES.md). The thread starts once the store has written
 * THREAD_AFTER_BATCHES batches and its batches run full, and takes batches while they do; otherwise they are written
 * on the store's connection. GroupCommit sends one batch at a time, so the two never write at once. Every other
 * write stays on the store's connection; SQLite's write lock serialises the two connections as it does two
 * processes.
 *
 * `:memory:` (one connection's private database) and a store clock of the caller's own (tests moving time by hand)
 * write on the store's connection, as does every batch after the thread failed to start or died.
 */
export class HotWriter {
  private worker: Worker | null = null;
  private ready = false;
  private broken = false;
  private nextId = 1;
  /** Batches written on the thread and on the store's connection (tests, diagnostics). */
  readonly batches = { thread: 0, here: 0 };
  private readonly pending = new Map<number, { resolve: (r: OpResult<unknown[]>) => void; reject: (e: unknown) => void }>();
  /** Items per batch, a moving average over the last ~5 batches. */
  private fill = 1;
  private full = false;
  /** Readers waiting for the batches sent before they came (see `sent`). */
  private readonly readers: Array<{ through: number; resolve: () => void }> = [];

  private readonly stop = stopFlag();
  /** One transaction wrapper for the writer's life (a `db.transaction()` per batch built four functions each time). */
  private readonly transaction: Transaction<(ops: HotOp[]) => OpResult<unknown[]>>;

  constructor(
    private readonly db: Db,
    private readonly path: string,
    private readonly clock: () => number,
    private readonly onThread: boolean,
  ) {
    this.transaction = db.transaction((ops: HotOp[]) => runHotOps(db, ops, this.clock()));
  }

  write(ops: HotOp[]): Promise<OpResult<unknown[]>> {
    const worker = this.worker;
    const full = this.onThread && this.fullBatches(ops.length);
    if (!worker || !this.ready || !full) {
      // Until the thread has its connection open (~0.1 s built, ~0.4 s of CPU from source), batches are written
      // here: its start delays no claim.
      if (!worker && full && !this.broken && this.batches.here >= THREAD_AFTER_BATCHES) this.start();
      return this.here(ops);
    }
    const id = this.nextId;
    try {
      worker.postMessage({ id, ops } satisfies WriterRequest);
    } catch {
      // Nothing was sent: the batch holds a value structured clone can not copy — a claim under a rate limit whose
      // bucket `key` is a function. It is written here, where the function is (GroupCommit sends one batch at a
      // time, so it never overlaps one on the thread); the next batch goes to the thread again.
      return this.here(ops);
    }
    this.nextId++;
    this.batches.thread++;
    // The answer comes in a later macrotask: registering it after the post can not miss it.
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Kept alive while a batch is out: an awaited write must not end the process before its answer.
      if (this.pending.size === 1) worker.ref();
    });
  }

  /**
   * Resolves once every batch sent so far was answered and its callers have heard back, or null when none is out. A
   * read on the store's connection could otherwise see a finish the thread committed before the engine heard of it
   * (the job finished, its attempt still recording): the store's reads wait for this, so whoever in this process
   * sees a job finished sees its attempt over, as when every write ran on the store's connection. One macrotask after
   * the answer: the callers' continuations (promise jobs) have all run by then.
   */
  sent(): Promise<void> | null {
    if (this.pending.size === 0) return null;
    const through = this.nextId - 1;
    return new Promise((resolve) => this.readers.push({ through, resolve }));
  }

  /**
   * Waits for the thread to close its connection (the last one out checkpoints the WAL back into the file). A batch
   * waiting for another process's lock gives up at its next try. Never terminate(): see askToStop.
   */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    this.broken = true;
    await askToStop(worker, this.stop, 'close' satisfies WriterRequest, BUSY_PATIENCE_MS + 5_000);
  }

  private fullBatches(items: number): boolean {
    this.fill = this.fill * 0.8 + items * 0.2;
    if (this.fill >= THREAD_ABOVE) this.full = true;
    else if (this.fill < HERE_BELOW) this.full = false;
    return this.full;
  }

  private here(ops: HotOp[]): Promise<OpResult<unknown[]>> {
    this.batches.here++;
    return retryWhileBusy(() => this.transaction.immediate(ops));
  }

  private start(): void {
    let worker: Worker;
    try {
      worker = moduleThread(new URL('./writer-thread', import.meta.url), {
        workerData: { path: this.path, stop: this.stop } satisfies WriterThreadData,
        resourceLimits: BACKGROUND_THREAD_LIMITS,
      });
    } catch {
      this.broken = true;
      return;
    }
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.answer(reply));
    worker.once('error', (err) => this.lost(err));
    worker.once('exit', (code) => this.lost(new Error(`exited with code ${code}`)));
    this.worker = worker;
  }

  private answer(reply: WriterReply): void {
    if ('ready' in reply) {
      this.ready = true;
      return;
    }
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.ok) p.resolve({ value: reply.value, events: reply.events as StoreEvent[] });
    else p.reject(rebuild(reply.error));
    this.releaseReaders((r) => r.through <= reply.id || this.pending.size === 0);
  }

  private releaseReaders(which: (r: { through: number }) => boolean): void {
    for (let i = 0; i < this.readers.length; ) {
      const r = this.readers[i]!;
      if (!which(r)) {
        i++;
        continue;
      }
      this.readers.splice(i, 1);
      setImmediate(r.resolve);
    }
  }

  /**
   * The thread is gone (it can only die of a bug or the process running out of memory). Batches it had not answered
   * fail as a store outage, and later batches are written on the store's own connection. The engine keeps the
   * outcomes and writes them again (fenced: a finish that did commit is not applied twice); jobs of a claim that did
   * commit stay leased to this worker until the lease runs out, then are recovered as a crashed worker's are.
   */
  private lost(err: Error): void {
    if (this.worker === null && this.pending.size === 0) return;
    this.worker = null;
    this.broken = true;
    const failed = new StoreUnavailableError(`the SQLite store ${this.path}: its writer thread stopped (${err.message}); writes go on without it`, err);
    for (const p of this.pending.values()) p.reject(failed);
    this.pending.clear();
    this.releaseReaders(() => true);
  }
}

/** The thread's error as the store's connection would have thrown it: store.wrap() then reads the same code. */
function rebuild(f: WriterFailure): Error {
  if (f.vigilCode === 'VIGIL_STORE_UNAVAILABLE') return new StoreUnavailableError(f.message);
  if (f.vigilCode) return new VigilError(f.vigilCode as ErrorCode, f.message);
  return Object.assign(new Error(f.message), { name: f.name, code: f.code ?? undefined });
}
