/**
 * Sends at most one value per `intervalMs`, always the latest: the first at once, later ones when the interval has
 * passed (checked on every push, so a task calling ctx.heartbeat() in a tight synchronous loop still sends one per
 * interval, and a timer sends the last value of a burst). flush() sends a value still held (the attempt ends).
 */
export class Throttle<T> {
  private lastSentAt = -Infinity;
  private held: { value: T } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (value: T) => void,
  ) {}

  push(value: T): void {
    const now = Date.now();
    if (now - this.lastSentAt >= this.intervalMs) {
      this.clearTimer();
      this.held = null;
      this.lastSentAt = now;
      this.send(value);
      return;
    }
    this.held = { value };
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.lastSentAt + this.intervalMs - now);
      // The attempt's own work keeps its thread alive, not a pending heartbeat.
      this.timer.unref?.();
    }
  }

  flush(): void {
    this.clearTimer();
    const held = this.held;
    if (!held) return;
    this.held = null;
    this.lastSentAt = Date.now();
    this.send(held.value);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
