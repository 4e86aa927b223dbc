// The SQLite store's writer thread (src/store/sqlite/hot-writer.ts): a worker's hot-path writes run there on a store
// file, never for `:memory:` or a caller's own clock; a thread that dies fails only what it had not answered and the
// store writes on without it; its errors reach the caller as the store's own connection would have thrown them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Worker } from 'node:worker_threads';
import { VigilError } from '../src/errors.js';
import type { Fence } from '../src/store/contract.js';
import type { HotWriter } from '../src/store/sqlite/hot-writer.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Job, RetryPolicy } from '../src/types.js';

const retry: RetryPolicy = { maxAttempts: 3, backoffMs: 0, factor: 2, maxDelayMs: 1000, jitter: 0 };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-writer-thread-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const dbPath = (): string => join(dir, `w${++n}.db`);

/** The store's writer, for what only its insides can tell: where batches were written. */
function writerOf(store: SqliteStore): HotWriter & { worker: Worker | null } {
  return (store as unknown as { hot: HotWriter & { worker: Worker | null } }).hot;
}

const nobody: Fence = { jobId: '1', attempt: 1, workerId: 'nobody' };

/**
 * Full batches of hot writes (heartbeats of a fence that matches nothing: they change no row) until the thread has
 * written `batches`: it starts after the store wrote THREAD_AFTER_BATCHES itself, and takes batches once its
 * connection is open.
 */
async function untilOnThread(store: SqliteStore, batches = 1): Promise<void> {
  const writer = writerOf(store);
  const until = Date.now() + 20_000;
  while (writer.batches.thread < batches) {
    assert.ok(Date.now() < until, 'the writer thread never took a batch within 20 s');
    // Eight calls of one turn share a batch: full batches are what sends them to the thread.
    await Promise.all(Array.from({ length: 8 }, () => store.recordActivity([{ fence: nobody, heartbeatAt: Date.now() }])));
  }
}

/** `p`, or a rejection naming `what` if it has not settled within `ms`: a lost answer fails the test, not hangs it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A real second process that takes SQLite's write lock and holds it until its stdin gets a line. */
async function lockHolder(path: string): Promise<{ child: ChildProcess; release(): Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const D = require('better-sqlite3'); const db = new D(process.argv[1]); db.exec('BEGIN IMMEDIATE');
       process.stdout.write('locked\\n');
       process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`,
      path,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], cwd: resolve(import.meta.dirname, '..') },
  );
  const exited = new Promise<number | null>((res) => child.on('close', res));
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('locked')) res();
    });
    void exited.then((code) => rej(new Error(`the lock holder exited ${code} before it held the lock`)));
  });
  return {
    child,
    release: async () => {
      child.stdin!.end('go\n');
      return exited;
    },
  };
}

/** A store with one queued job of `task`, its writer thread taking batches, and a real process holding the lock. */
async function lockedStore(task: string): Promise<{ store: SqliteStore; queued: Job; lock: Awaited<ReturnType<typeof lockHolder>> }> {
  const path = dbPath();
  const store = await SqliteStore.open(path);
  const [queued] = await store.enqueue([{ task, input: 1, retry }]);
  await untilOnThread(store);
  return { store, queued: queued!.job, lock: await lockHolder(path) };
}

/** Until the writer has sent the thread a batch after the `sent` it had sent before. */
async function untilSent(writer: HotWriter, sent: number): Promise<void> {
  for (let turns = 0; writer.batches.thread === sent; turns++) {
    assert.ok(turns < 10_000, 'the claim never went to the thread');
    await new Promise((r) => setImmediate(r));
  }
}

describe('sqlite store: the writer thread', () => {
  it("a worker's claims and finishes are written on the thread once it is ready, with nothing lost on the way", async () => {
    const store = await SqliteStore.open(dbPath());
    try {
      const jobs = await store.enqueue(Array.from({ length: 60 }, (_, i) => ({ task: 'hot', input: i, retry })));
      await untilOnThread(store);
      const writer = writerOf(store);
      const before = { ...writer.batches };
      for (;;) {
        const claimed = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 8, tasks: { hot: 8 } });
        if (claimed.length === 0) break;
        const done = await Promise.all(claimed.map((c) => store.finishAttempt(c.fence, { outcome: 'succeeded', result: c.job.input })));
        for (const [i, j] of done.entries()) assert.equal(j?.state, 'succeeded', `job ${claimed[i]!.job.id}`);
      }
      assert.ok(writer.batches.thread > before.thread, 'claims and finishes went to the thread');
      assert.equal(writer.batches.here, before.here, 'nothing was written on the store connection once the thread was ready');
      // The store's own connection (its reads) sees every commit of the thread's.
      const all = await store.getMany(jobs.map((r) => r.job.id));
      assert.deepEqual(all.map((j) => [j.state, j.result]), jobs.map((r) => ['succeeded', r.job.input]));
      assert.equal((await store.counts()).succeeded, 60);
    } finally {
      await store.close();
    }
  });

  it('a read in this process never sees a finish the thread committed before its caller heard back', async () => {
    const store = await SqliteStore.open(dbPath());
    try {
      const JOBS = 80;
      await store.enqueue(Array.from({ length: JOBS }, (_, i) => ({ task: 'seen', input: i, retry })));
      await untilOnThread(store);
      const writer = writerOf(store);
      const sent = writer.batches.thread;
      let early = 0;
      for (;;) {
        const claimed = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 8, tasks: { seen: 8 } });
        if (claimed.length === 0) break;
        const heard = new Set<string>();
        // One batch of eight finishes, so it goes to the thread.
        const finished = Promise.all(
          claimed.map((c) => store.finishAttempt(c.fence, { outcome: 'succeeded', result: 1 }).then((j) => (heard.add(c.job.id), j))),
        );
        // Reads as fast as the loop turns, from before the batch is sent until every job reads finished.
        const ids = claimed.map((c) => c.job.id);
        for (let reads = 0, seen = new Set<string>(); seen.size < ids.length; reads++) {
          assert.ok(reads < 100_000, 'the finishes never became visible');
          for (const j of await store.getMany(ids)) {
            if (j.state !== 'succeeded' || seen.has(j.id)) continue;
            seen.add(j.id);
            if (!heard.has(j.id)) early++;
          }
          await new Promise((r) => setImmediate(r));
        }
        for (const j of await finished) assert.equal(j?.state, 'succeeded');
      }
      assert.ok(writer.batches.thread > sent, 'the finishes went to the thread');
      assert.equal(early, 0, `${early} of ${JOBS} finishes were read before their callers heard back`);
    } finally {
      await store.close();
    }
  });

  it('batches follow how full they run: one at a time on the store connection, full ones on the thread', async () => {
    const store = await SqliteStore.open(dbPath());
    try {
      await untilOnThread(store);
      const writer = writerOf(store);
      // One job at a time: batches of one item. Within ~10 of them they are written on the store connection, where
      // they wait for no thread wake-up (that was the p99 latency of sequential jobs).
      const before = { ...writer.batches };
      for (let i = 0; i < 30; i++) await store.recordActivity([{ fence: nobody, heartbeatAt: i }]);
      assert.ok(writer.batches.here - before.here >= 15, `batches of one on the store connection: ${JSON.stringify(writer.batches)} after ${JSON.stringify(before)}`);
      const lastTen = { ...writer.batches };
      for (let i = 0; i < 10; i++) await store.recordActivity([{ fence: nobody, heartbeatAt: i }]);
      assert.equal(writer.batches.thread, lastTen.thread, 'no batch of one went to the thread once they were all single');
      // Full again: back to the thread, still running.
      await untilOnThread(store, writer.batches.thread + 1);
      assert.notEqual(writer.worker, null);
    } finally {
      await store.close();
    }
  });

  it("a claim under a keyed rate limit runs where its key function is (functions do not cross to the thread); the rest keep going there", async () => {
    const store = await SqliteStore.open(dbPath());
    try {
      await store.enqueue(['a', 'a', 'b', 'b'].map((tenant) => ({ task: 'keyed', input: { tenant }, retry })));
      await untilOnThread(store);
      const writer = writerOf(store);
      const before = { ...writer.batches };
      const rateLimits = { keyed: { max: 1, perMs: 60_000, key: (input: unknown) => (input as { tenant: string }).tenant } };
      const claimed = await within(store.claim({ workerId: 'w', leaseMs: 30_000, limit: 4, tasks: { keyed: 4 }, rateLimits }), 10_000, 'the keyed claim');
      // One start per tenant in the window: the key function ran, inside the claim's transaction.
      assert.deepEqual(claimed.map((c) => (c.job.input as { tenant: string }).tenant).sort(), ['a', 'b']);
      assert.equal(writer.batches.here, before.here + 1, 'the keyed claim was written on the store connection');
      await Promise.all(claimed.map((c) => store.finishAttempt(c.fence, { outcome: 'succeeded', result: 1 })));
      assert.ok(writer.batches.thread > before.thread, 'the next batch went to the thread again');
    } finally {
      await store.close();
    }
  });

  it('no thread for :memory: (a private database) or a clock of the caller (time moved by hand)', async () => {
    let now = 1_000_000;
    for (const store of [await SqliteStore.open(':memory:'), await SqliteStore.open(dbPath(), { clock: () => now++ })]) {
      try {
        await store.enqueue([{ task: 'here', input: 1, retry }]);
        // Past the batches after which a file store with the real clock starts its thread.
        for (let i = 0; i < 100; i++) await store.recordActivity([{ fence: nobody, heartbeatAt: i }]);
        const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { here: 1 } });
        assert.equal((await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: 2 }))?.state, 'succeeded');
        const writer = writerOf(store);
        assert.equal(writer.worker, null, `${store.description}: no writer thread`);
        assert.equal(writer.batches.thread, 0);
        assert.ok(writer.batches.here >= 102);
      } finally {
        await store.close();
      }
    }
  });

  it('a thread that dies fails the batch it had not answered as a store outage; the store then writes without it and loses nothing', async () => {
    const { store, ...holder } = await lockedStore('orphan');
    try {
      // The claim waits in the thread for the other process's lock (async retries, up to 5 s) — then the thread dies.
      const writer = writerOf(store);
      const sent = writer.batches.thread;
      const claim = store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { orphan: 1 } });
      await untilSent(writer, sent);
      // A real death of the thread: an uncaught error in it (a message it does not know is a protocol bug, and it
      // stops loudly). Not terminate(): terminating a thread inside better-sqlite3 aborts the whole process (askToStop).
      writer.worker!.postMessage({ not: 'a batch' });
      await assert.rejects(within(claim, 10_000, 'the claim the dead thread had not answered'), (err: unknown) => {
        assert.ok(err instanceof VigilError, String(err));
        assert.equal(err.code, 'VIGIL_STORE_UNAVAILABLE');
        assert.match(err.message, /writer thread stopped \(the SQLite writer thread got a message it does not know/);
        return true;
      });
      assert.equal(await holder.lock.release(), 0);
      // Nothing the dead thread began committed: the job is still queued, and the next claim (on the store's own
      // connection now) takes it as its first attempt.
      const [again] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { orphan: 1 } });
      assert.equal(again?.job.id, holder.queued.id);
      assert.equal(again?.job.attempts, 1);
      assert.equal((await store.finishAttempt(again!.fence, { outcome: 'succeeded', result: 'ok' }))?.state, 'succeeded');
      assert.equal(writer.worker, null);
      assert.ok(writer.batches.here >= 2, 'the later batches were written on the store connection');
    } finally {
      holder.lock.child.kill('SIGKILL');
      await store.close();
    }
  });

  it('closing while a batch waits out another process\'s lock: the thread gives up at its next try and ends by itself, never terminated', async () => {
    const { store, lock } = await lockedStore('closing');
    try {
      const writer = writerOf(store);
      const thread = writer.worker!;
      let terminated = false;
      const terminate = thread.terminate.bind(thread);
      thread.terminate = () => {
        terminated = true;
        return terminate();
      };
      const sent = writer.batches.thread;
      // Its outcome taken at once: it fails while close() is awaited.
      const claim = store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { closing: 1 } }).then(
        () => null,
        (e: unknown) => e,
      );
      await untilSent(writer, sent);
      const t0 = performance.now();
      // Well inside the store's 5 s patience for a lock: the stop flag, not the patience, ended the wait.
      await within(writer.close(), 2_000, "the writer's close");
      assert.ok(performance.now() - t0 < 2_000);
      const err = await within(claim, 2_000, 'the claim');
      assert.ok(err instanceof VigilError && /SQLITE_BUSY/.test(err.message), `the claim gave up on the lock: ${String(err)}`);
      assert.equal(thread.threadId, -1, 'the thread ended');
      assert.equal(terminated, false);
      assert.equal(await lock.release(), 0);
      const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { closing: 1 } });
      assert.equal(c?.job.attempts, 1, 'the given-up claim took nothing');
    } finally {
      lock.child.kill('SIGKILL');
      await store.close();
    }
  });

  it("an error in the thread reaches the caller as the store connection's own would: same class, code and message", async () => {
    // The same fault on both paths: a trigger refuses every finish (SQLITE_CONSTRAINT_TRIGGER, a bug-class error).
    const outcomes: Array<{ name: string; code: string; message: string }> = [];
    for (const onThread of [true, false]) {
      const path = dbPath();
      let now = Date.now();
      const store = await SqliteStore.open(path, onThread ? {} : { clock: () => now++ });
      try {
        await store.enqueue([{ task: 'refused', input: 1, retry }]);
        if (onThread) await untilOnThread(store);
        const db = new Database(path);
        db.exec(`CREATE TRIGGER refuse BEFORE UPDATE OF state ON jobs WHEN NEW.state = 'succeeded' BEGIN SELECT RAISE(ABORT, 'finishes refused'); END`);
        db.close();
        const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { refused: 1 } });
        const err = await store.finishAttempt(c!.fence, { outcome: 'succeeded', result: 1 }).then(
          () => assert.fail('the finish should have been refused'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof VigilError, String(err));
        assert.equal(writerOf(store).batches.thread > 0, onThread);
        outcomes.push({ name: err.name, code: err.code, message: err.message.replace(path, 'PATH') });
        // The refused finish changed nothing: the attempt is still running under its lease.
        assert.equal((await store.get(c!.job.id))?.state, 'running');
      } finally {
        await store.close();
      }
    }
    assert.deepEqual(outcomes[0], outcomes[1]);
    assert.equal(outcomes[0]!.code, 'VIGIL_INTERNAL');
    assert.match(outcomes[0]!.message, /finishes refused/);
  });

  it("a lock held past the store's patience fails the thread's batch with the store's advice (the driver's code survives the hop)", async () => {
    const { store, lock } = await lockedStore('locked');
    try {
      const err = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { locked: 1 } }).then(
        () => assert.fail('the claim should have given up on the lock'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof VigilError, String(err));
      assert.equal(err.name, 'StoreUnavailableError');
      assert.match(err.message, /stayed locked by another process.*SQLITE_BUSY/);
      assert.equal(await lock.release(), 0);
      const [c] = await store.claim({ workerId: 'w', leaseMs: 30_000, limit: 1, tasks: { locked: 1 } });
      assert.equal(c?.job.attempts, 1, 'the failed claim took nothing');
    } finally {
      lock.child.kill('SIGKILL');
      await store.close();
    }
  });
});
