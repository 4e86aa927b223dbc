import type { JobEvent, Store } from '../store/contract.js';

export interface EventFeedOptions {
  /** How often the store is polled while someone listens. Events of other processes arrive within this. */
  pollMs: number;
  /**
   * How long a missing seq is waited for before it is skipped. On PostgreSQL a transaction that took seq N may
   * commit after the one that took N+1; delivering N+1 first and moving the cursor on would lose N for good.
   * A rolled-back transaction leaves a permanent gap, hence the bound.
   */
  gapWaitMs: number;
  /** Events kept in memory for reconnecting clients; older ones are read from the store. */
  bufferSize?: number;
}

type Listener = (events: JobEvent[]) => void;

const PAGE = 500;

/**
 * One poller per server over the durable job_events table (migration 005), fanned out to every SSE client.
 * Events are delivered strictly in seq order and only once each, so an SSE client's Last-Event-ID is an exact
 * resume point. Polls only while someone listens; store notifications (same process on SQLite, every process on
 * PostgreSQL) wake it early.
 */
export class EventFeed {
  private cursor = 0;
  private readonly buffer: JobEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private again = false;
  private gap: { seq: number; since: number } | null = null;
  private unsubscribe: (() => void) | null = null;
  private starting: Promise<void> | null = null;
  private closed = false;
  private readonly bufferSize: number;

  constructor(
    private readonly store: Store,
    private readonly options: EventFeedOptions,
    private readonly onError: (err: unknown) => void,
  ) {
    this.bufferSize = options.bufferSize ?? 10_000;
  }

  /** The seq delivered last: a client connecting without Last-Event-ID starts after it. */
  get position(): number {
    return this.cursor;
  }

  /** Live subscribers (SSE streams) right now. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Idempotent; concurrent callers all wait for the same first read of the cursor. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      this.cursor = await this.store.lastEventSeq();
      this.unsubscribe = this.store.subscribe(() => this.wake());
    })().catch((err: unknown) => {
      // A store outage at the first subscriber must not break every later one.
      this.starting = null;
      throw err;
    });
    return this.starting;
  }

  /**
   * Subscribes from just after `afterSeq`: older events come from the store, then the buffer, then live ones,
   * without a gap or a repeat between the three. `send` may be called before this promise resolves.
   */
  async follow(afterSeq: number, send: Listener): Promise<() => void> {
    let last = afterSeq;
    // Catch up from the store until the in-memory buffer (or the live cursor) covers the rest.
    while (last < this.cursor && (this.buffer.length === 0 || last < this.buffer[0]!.seq - 1)) {
      const page = (await this.store.eventsAfter(last, PAGE)).filter((e) => e.seq <= this.cursor);
      if (page.length === 0) break;
      send(page);
      last = page[page.length - 1]!.seq;
    }
    // From here on everything is synchronous: no event can be delivered between the replay and the subscription.
    const fromBuffer = this.buffer.filter((e) => e.seq > last);
    if (fromBuffer.length) send(fromBuffer);
    const listener: Listener = (events) => {
      const fresh = events.filter((e) => e.seq > last);
      if (fresh.length === 0) return;
      last = fresh[fresh.length - 1]!.seq;
      send(fresh);
    };
    this.listeners.add(listener);
    this.schedule();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopTimer();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    this.listeners.clear();
    this.stopTimer();
    await this.polling;
  }

  private wake(): void {
    if (this.listeners.size > 0) void this.poll();
  }

  private schedule(): void {
    if (this.closed || this.timer || this.listeners.size === 0) return;
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
    void this.poll();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = (async () => {
      try {
        do {
          this.again = false;
          await this.pollOnce();
        } while (this.again && !this.closed);
      } catch (err) {
        this.onError(err);
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    for (;;) {
      const page = await this.store.eventsAfter(this.cursor, PAGE);
      if (this.closed) return;
      const ready: JobEvent[] = [];
      for (const e of page) {
        if (e.seq !== this.cursor + 1 && !this.gapExpired(this.cursor + 1)) break;
        this.gap = null;
        ready.push(e);
        this.cursor = e.seq;
      }
      if (ready.length) {
        this.buffer.push(...ready);
        if (this.buffer.length > this.bufferSize) this.buffer.splice(0, this.buffer.length - this.bufferSize);
        for (const l of [...this.listeners]) l(ready);
      }
      if (page.length < PAGE || ready.length === 0) return;
    }
  }

  private gapExpired(seq: number): boolean {
    const now = Date.now();
    if (!this.gap || this.gap.seq !== seq) this.gap = { seq, since: now };
    return now - this.gap.since >= this.options.gapWaitMs;
  }
}
