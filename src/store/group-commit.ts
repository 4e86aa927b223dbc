/**
 * Group commit: calls made while a batch is being written, or within the same turn of the event loop, are written
 * together by the next batch — one transaction for many of them instead of one each. Every caller's promise settles
 * only after the transaction that carried its item committed (or failed): nothing is acknowledged before it is
 * durable.
 *
 * A failed batch of several items is written again item by item, so one item the store rejects (a bug, a value it
 * can not hold) fails only its own caller, and a store outage fails each caller with its own error to retry.
 *
 * An item submitted with `linger` may wait up to `lingerMs` for company (classic group commit, PostgreSQL's
 * commit_delay): an attempt's finish waits for nobody — its slot was freed and the next attempt started before it
 * is written — so a worker at concurrency 1 can write several finishes, with the claim that refills its buffer, in
 * one transaction instead of one each. Any item without `linger` (a claim, a renewal) takes the waiting ones along
 * at once; `lingerMax` waiting items are written without waiting further.
 */
export interface GroupCommitOptions {
  /** Items per transaction at most (default 256). */
  maxBatch?: number;
  /** How long an item submitted with `linger` may wait for company (default 0: it does not wait). */
  lingerMs?: number;
  /** Lingering items that are written at once, without waiting further (default 16). */
  lingerMax?: number;
}

interface Entry<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
  linger: boolean;
  at: number;
}

export class GroupCommit<I, O> {
  private queue: Array<Entry<I, O>> = [];
  /** Items in the queue that do not linger: while there is one, the next batch goes at once. */
  private eager = 0;
  private writing = false;
  private scheduled = false;
  private flushing = 0;
  /** Ends a linger early (an eager item came, lingerMax items wait, or a flush). */
  private wake: (() => void) | null = null;

  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly lingerMax: number;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.lingerMs = options.lingerMs ?? 0;
    this.lingerMax = options.lingerMax ?? 16;
  }

  /** Resolves once everything submitted so far has been written (or failed). */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.wakeUp();
      while (this.queue.length > 0 || this.writing || this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
    } finally {
      this.flushing--;
    }
  }

  submit(item: I, linger = false): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const lingers = linger && this.lingerMs > 0;
      this.queue.push({ item, resolve, reject, linger: lingers, at: lingers ? performance.now() : 0 });
      if (!lingers) this.eager++;
      if (this.wake && this.goNow()) this.wakeUp();
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: the answers of several executors that arrived in one poll phase join one batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // Waits for company before every batch, not only the first after a quiet spell: with a writer that answers
        // asynchronously (the SQLite writer thread) the items that came during one write were otherwise written at
        // once, a few per transaction, and a transaction's cost is mostly its commit.
        await this.company();
        const batch = this.queue.splice(0, this.maxBatch);
        for (const b of batch) if (!b.linger) this.eager--;
        await this.writeBatch(batch);
        // One turn of the event loop before the next batch. What callers submit in reaction to their answers (a
        // worker's refill claim) then joins the queued items. And a writer that answers within the same turn (the
        // store's own connection) can not keep this loop in promise jobs, batch after batch, while timers and IPC
        // starve: a caller that wrote again on every answer did that.
        if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.writing = false;
    }
  }

  /** The next batch may go: an item that does not linger, lingerMax lingering items, or a flush. */
  private goNow(): boolean {
    return this.eager > 0 || this.queue.length >= this.lingerMax || this.flushing > 0;
  }

  /** Until the oldest waiting item has lingered lingerMs, unless the batch may go sooner. */
  private async company(): Promise<void> {
    if (this.goNow()) return;
    const waited = performance.now() - this.queue[0]!.at;
    if (waited >= this.lingerMs) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wakeUp(), this.lingerMs - waited);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private wakeUp(): void {
    this.wake?.();
  }

  private async writeBatch(batch: Array<Entry<I, O>>): Promise<void> {
    try {
      const out = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i]!));
      return;
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    for (const b of batch) {
      try {
        const [o] = await this.write([b.item]);
        b.resolve(o!);
      } catch (err) {
        b.reject(err);
      }
    }
  }
}
