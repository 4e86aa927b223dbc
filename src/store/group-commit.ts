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
  /**
   * Wait one turn after a batch settled before taking the next: what its callers submit in reaction to their
   * answers (a worker's refill claim after its claim came back) then joins the queued items in one batch.
   */
  turnBetweenBatches?: boolean;
}

export class GroupCommit<I, O> {
  private queue: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private writing = false;
  private scheduled = false;
  private lingering: ReturnType<typeof setTimeout> | null = null;

  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly lingerMax: number;
  private readonly turnBetweenBatches: boolean;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.lingerMs = options.lingerMs ?? 0;
    this.lingerMax = options.lingerMax ?? 16;
    this.turnBetweenBatches = options.turnBetweenBatches ?? false;
  }

  /** Resolves once everything submitted so far has been written (or failed). */
  async flush(): Promise<void> {
    this.stopLingering();
    while (this.queue.length > 0 || this.writing || this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  submit(item: I, linger = false): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (linger && this.lingerMs > 0 && this.queue.length < this.lingerMax) this.linger();
      else this.schedule();
    });
  }

  private linger(): void {
    if (this.writing || this.scheduled || this.lingering) return;
    this.lingering = setTimeout(() => {
      this.lingering = null;
      this.schedule();
    }, this.lingerMs);
  }

  private stopLingering(): void {
    if (!this.lingering) return;
    clearTimeout(this.lingering);
    this.lingering = null;
    this.schedule();
  }

  private schedule(): void {
    if (this.lingering) {
      clearTimeout(this.lingering);
      this.lingering = null;
    }
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
        if (this.turnBetweenBatches && this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
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
