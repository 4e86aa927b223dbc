/**
 * Concurrency slots of one worker. Parents that wait for children give their slot back and take one again
 * through `acquire({ resume: true })`, which is served before new work is claimed — so a pool of any size ≥ 1
 * always has a slot for the children a parent waits on (DESIGN G6).
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

  /** Takes a slot for newly claimed work; the caller checked `free`. */
  take(): void {
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
    const next = this.resumers.shift();
    if (next) {
      this.used++;
      next();
    }
    for (const listener of this.listeners) listener();
  }

  onRelease(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
