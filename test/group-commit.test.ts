// GroupCommit (src/store/group-commit.ts) on its own: what shares a batch, when lingering items are written, that no
// caller hears back before the write that carried its item finished, and the turn between batches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from '../src/store/group-commit.js';

/** A writer that records its batches and answers each item with itself doubled. */
function recorder(): { batches: number[][]; write: (items: number[]) => Promise<number[]> } {
  const batches: number[][] = [];
  return {
    batches,
    write: async (items) => {
      batches.push([...items]);
      return items.map((i) => i * 2);
    },
  };
}

/** Rejects if `p` has not settled within ms: a lingering item that is not flushed shows up as this, not as a hang. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not written within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('group commit', () => {
  it('items of one turn share one write, and each caller gets its own answer', async () => {
    const r = recorder();
    const gc = new GroupCommit(r.write);
    assert.deepEqual(await Promise.all([gc.submit(1), gc.submit(2), gc.submit(3)]), [2, 4, 6]);
    assert.deepEqual(r.batches, [[1, 2, 3]]);
  });

  it('lingering items wait for company and are written together once the linger ends', async () => {
    const r = recorder();
    const gc = new GroupCommit(r.write, { lingerMs: 30 });
    const first = gc.submit(1, true);
    // A later turn: without the linger these would be two writes.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const second = gc.submit(2, true);
    assert.deepEqual(await within(Promise.all([first, second]), 5_000, 'lingering items'), [2, 4]);
    assert.deepEqual(r.batches, [[1, 2]]);
  });

  it('an item that does not linger takes the lingering ones along at once', async () => {
    const r = recorder();
    // A linger far longer than the bound below: only the eager item can have written them in time.
    const gc = new GroupCommit(r.write, { lingerMs: 60_000 });
    const lingering = [gc.submit(1, true), gc.submit(2, true)];
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(r.batches, [], 'nothing written while only lingering items wait');
    const eager = gc.submit(3);
    assert.deepEqual(await within(Promise.all([...lingering, eager]), 5_000, 'items flushed by an eager one'), [2, 4, 6]);
    assert.deepEqual(r.batches, [[1, 2, 3]]);
  });

  it('lingerMax waiting items are written without waiting further, and flush() writes lingering ones', async () => {
    const r = recorder();
    const gc = new GroupCommit(r.write, { lingerMs: 60_000, lingerMax: 3 });
    const full = [gc.submit(1, true), gc.submit(2, true), gc.submit(3, true)];
    assert.deepEqual(await within(Promise.all(full), 5_000, 'a full linger group'), [2, 4, 6]);
    const last = gc.submit(4, true);
    await within(gc.flush(), 5_000, 'flush');
    assert.equal(await last, 8);
    assert.deepEqual(r.batches, [[1, 2, 3], [4]]);
  });

  it('no caller hears back before its write finished; a failed batch is retried item by item', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const written: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      await gate;
      if (items.length > 1 && items.includes(2)) throw new Error('batch refused');
      if (items.length === 1 && items[0] === 2) throw new Error('item 2 refused');
      written.push(items);
      return items;
    });
    let settled = 0;
    const all = [1, 2, 3].map((i) => gc.submit(i).then(
      (v) => (settled++, v),
      (e: Error) => (settled++, e.message),
    ));
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(settled, 0, 'nobody answered while the write was in flight');
    release();
    assert.deepEqual(await Promise.all(all), [1, 'item 2 refused', 3]);
    assert.deepEqual(written, [[1], [3]]);
  });
});

/** A writer whose batches settle when the test says so, recording what each batch held. */
function gatedWriter(): { batches: string[][]; release: () => void; write: (items: string[]) => Promise<string[]>; started: () => Promise<void> } {
  const batches: string[][] = [];
  let open: (() => void) | undefined;
  let onStart: (() => void) | undefined;
  return {
    batches,
    release: () => open?.(),
    started: () => new Promise<void>((resolve) => (onStart = resolve)),
    write: async (items) => {
      batches.push(items);
      onStart?.();
      await new Promise<void>((resolve) => (open = resolve));
      return items;
    },
  };
}

/** What a worker does when its claim's answer comes back: after react(), it asks for the refill claim. */
function refillAfter(claim: Promise<string>, gc: GroupCommit<string, string>): { claim: Promise<string> | undefined } {
  const refill: { claim: Promise<string> | undefined } = { claim: undefined };
  void claim.then(async () => {
    await react();
    refill.claim = gc.submit('claim-2');
  });
  return refill;
}

/**
 * The worker's reaction to a claim's answer passes through several awaits (the store, the engine's claim, its loop)
 * before the refill claim is submitted: more microtask turns than the batch loop needs to take the next batch.
 */
async function react(): Promise<void> {
  for (let i = 0; i < 10; i++) await null;
}

describe('GroupCommit', () => {
  it('after a batch, what a caller submits in reaction to its answer joins the queued items (a turn between batches)', async () => {
    const w = gatedWriter();
    const gc = new GroupCommit<string, string>(w.write);
    const first = w.started();
    // The finish + claim of one worker go out together.
    const claim1 = gc.submit('claim-1');
    void gc.submit('finish-a');
    await first;
    // While that batch is in flight, the next attempt finishes...
    const finishB = gc.submit('finish-b');
    // ...and when the claim's answer comes back, the worker sends its refill claim at once.
    const refill = refillAfter(claim1, gc);
    const second = w.started();
    w.release();
    await second;
    assert.deepEqual(w.batches, [['claim-1', 'finish-a'], ['finish-b', 'claim-2']]);
    w.release();
    assert.equal(await finishB, 'finish-b');
    assert.equal(await refill.claim, 'claim-2');
  });

  it('a caller that writes again on every answer, to a writer answering in the same turn, never starves timers', async () => {
    // The store's own SQLite connection answers synchronously. Without the turn between batches the batch loop and
    // such a caller chained promise jobs forever: no timer, no IPC message (the writer thread's "ready") ran again.
    const gc = new GroupCommit<number, number>(async (items) => items);
    let fired = false;
    const timer = setTimeout(() => (fired = true), 1);
    let writes = 0;
    const until = Date.now() + 10_000;
    while (!fired) {
      assert.ok(Date.now() < until, `a 1 ms timer had not fired after ${writes} writes in 10 s`);
      await gc.submit(writes++);
    }
    clearTimeout(timer);
  });

  it('items that linger wait for company before every batch, not only the first after a quiet spell', async () => {
    const w = gatedWriter();
    // A linger far longer than the test: only lingerMax or an eager item can send the second batch.
    const gc = new GroupCommit<string, string>(w.write, { lingerMs: 60_000, lingerMax: 3 });
    const first = w.started();
    const claim = gc.submit('claim-1');
    await first;
    // Finishes that come while the first batch is in flight linger too once it is done.
    const finishes = [gc.submit('finish-a', true), gc.submit('finish-b', true)];
    w.release();
    assert.equal(await claim, 'claim-1');
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(w.batches, [['claim-1']], 'two lingering finishes were written without waiting for company');
    const second = w.started();
    finishes.push(gc.submit('finish-c', true));
    await second;
    assert.deepEqual(w.batches, [['claim-1'], ['finish-a', 'finish-b', 'finish-c']]);
    w.release();
    assert.deepEqual(await Promise.all(finishes), ['finish-a', 'finish-b', 'finish-c']);
  });
});
