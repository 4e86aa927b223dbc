/**
 * Concurrency slots of one worker. Parents that wait for children give their slot back and take one again
 * through `resume()`, which is served before new work is claimed — so a pool of any size ≥ 1 always has a slot for
 * the children a parent waits on (DESIGN G6). Claimed jobs wait in the worker's prefetch buffer and start only when
 * a slot is taken for them (`take()`), so a parent resuming while a claim is in flight can never push the worker
 * past its capacity.
 */
export class Slots {
  private used = 0;
  private readonly resumers: Array<() => void> = [];
  private readonly listeners = new Set<() => void>();

  constructor(readonly capacity: number) {}

  /** Slots the claim loop may fill now (resuming parents come first). */
  get free(): number {
    return Math.max(0, this.capacity - this.used - this.resumers.length);
  }

  get inUse(): number {
    return this.used;
  }

  /** Slots not running an attempt, for observers (metrics, readiness): the free ones (a claim reserves none). */
  get idle(): number {
    return this.free;
  }

  /** Takes one free slot at once (for a prefetched attempt the worker starts). */
  take(): void {
    if (this.used >= this.capacity) throw new Error(`no free slot: ${this.used} of ${this.capacity} in use`);
    this.used++;
  }

  /** A parent resuming after its children: waits for a slot, ahead of new work. */
  resume(): Promise<void> {
    if (this.used < this.capacity && this.resumers.length === 0) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.resumers.push(resolve));
  }

  release(): void {
    this.used--;
    this.serveResumers();
    for (const listener of this.listeners) listener();
  }

  onRelease(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private serveResumers(): void {
    while (this.resumers.length > 0 && this.used < this.capacity) {
      this.used++;
      this.resumers.shift()!();
    }
  }
}
