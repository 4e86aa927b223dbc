/**
 * Group commit: calls made while a batch is being written, or within the same turn of the event loop, are written
 * together by the next batch — one transaction for many of them instead of one each. Every caller's promise settles
 * only after the transaction that carried its item committed (or failed): nothing is acknowledged before it is
 * durable.
 *
 * A failed batch of several items is written again item by item, so one item the store rejects (a bug, a value it
 * can not hold) fails only its own caller, and a store outage fails each caller with its own error to retry.
 */
export class GroupCommit<I, O> {
  private queue: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 256,
  ) {}

  /** Resolves once everything submitted so far has been written (or failed). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.writing || this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
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
        const batch = this.queue.splice(0, this.maxBatch);
        await this.writeBatch(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(batch: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }>): Promise<void> {
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
