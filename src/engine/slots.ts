/**
 * Concurrency slots of one worker. Parents that wait for children give their slot back and take one again
 * through `resume()`, which is served before new work is claimed — so a pool of any size ≥ 1 always has a slot for
 * the children a parent waits on (DESIGN G6). The claim loop reserves the slots it claims for *before* the claim
 * goes to the store, so a parent resuming while a claim is in flight can never push the worker past its capacity.
 */
export class Slots {
  private used = 0;
  /** Of `used`, the slots held for the claim in flight (one at a time): not running anything yet. */
  private claiming = 0;
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

  /**
   * Slots not running an attempt, for observers (metrics, readiness): unlike `free`, a claim in flight does not
   * make its reserved slots look busy.
   */
  get idle(): number {
    return Math.max(0, this.capacity - (this.used - this.claiming) - this.resumers.length);
  }

  /** Holds `n` free slots for a claim in flight; give back the ones the claim did not fill with `unreserve`. */
  reserve(n: number): void {
    if (n > this.free) throw new Error(`cannot reserve ${n} slots: only ${this.free} free`);
    this.used += n;
    this.claiming += n;
  }

  /**
   * The claim is over: returns the reserved slots that no claimed job took (the others now hold attempts).
   * Resuming parents get them; new work is not announced.
   */
  unreserve(n: number): void {
    this.used -= n;
    this.claiming = 0;
    this.serveResumers();
  }

  /** Takes one free slot at once (outside the claim loop's reservations). */
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
