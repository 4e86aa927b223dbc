import pg from 'pg';
import type { StoreEvent } from '../contract.js';

export interface ListenerOptions {
  /** A fresh client config for every (re)connection. */
  clientConfig: pg.ClientConfig;
  channel: string;
  onEvent: (event: StoreEvent) => void;
  /**
   * Asked after a reconnection and on every slow poll: which tasks have runnable jobs. Notifications sent while
   * the LISTEN connection was down are gone, so waiters are told to look again.
   */
  runnableTasks: () => Promise<string[]>;
  /** Slow poll, the safety net for notifications lost any other way. */
  pollMs: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ListenStatus {
  connected: boolean;
  /** Connection attempts that failed in a row (0 once one succeeds). */
  consecutiveFailures: number;
  /** When the current run of failures began (local clock), or null. */
  failingSince: number | null;
  lastError: string | null;
}

/** After this many failed attempts in a row, subscribers are told (`listenFailing`), then again every REPORT_EVERY. */
export const FAILING_AFTER = 3;
const REPORT_EVERY = 10;

/**
 * The dedicated LISTEN connection. It is never in the pool (a pooled client would be handed out mid-LISTEN), and
 * it reconnects by itself with capped, jittered backoff, so a database restart costs idle workers a delay, never
 * their wake-ups.
 */
export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private everConnected = false;
  /** Connections made so far: tests and `doctor` read it to see that reconnection happened. */
  connections = 0;
  private failures = 0;
  private failingSince: number | null = null;
  private lastError: string | null = null;
  private reported = false;

  constructor(private readonly opts: ListenerOptions) {}

  get connected(): boolean {
    return this.client !== null;
  }

  /**
   * A LISTEN that keeps failing (an auth change, a dropped grant, a database that stays down) silently degrades
   * every idle worker and waiter to slow polling: this makes it visible (`doctor`, metrics) besides the
   * `listenFailing` / `listenRestored` events.
   */
  get status(): ListenStatus {
    return { connected: this.connected, consecutiveFailures: this.failures, failingSince: this.failingSince, lastError: this.lastError };
  }

  /** Resolves once the first connection is listening, or after its first failure (it keeps retrying then). */
  start(): Promise<void> {
    if (!this.connecting && !this.client && !this.closed) this.connecting = this.connect(this.opts.minBackoffMs ?? 100);
    if (!this.pollTimer && !this.closed) {
      this.pollTimer = setInterval(() => void this.recheck(false), this.opts.pollMs);
      this.pollTimer.unref();
    }
    return this.connecting ?? Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(backoffMs: number): Promise<void> {
    const client = new pg.Client(this.opts.clientConfig);
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (msg.channel === this.opts.channel && msg.payload) this.dispatch(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.opts.channel}"`);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      this.connecting = null;
      this.failed(err);
      this.scheduleReconnect(backoffMs);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connecting = null;
    this.connections++;
    const wasReported = this.reported;
    this.failures = 0;
    this.failingSince = null;
    this.reported = false;
    if (wasReported) this.opts.onEvent({ type: 'listenRestored' });
    if (this.everConnected) void this.recheck(true);
    this.everConnected = true;
  }

  private failed(err: unknown): void {
    if (this.closed) return;
    this.failures++;
    this.failingSince ??= Date.now();
    this.lastError = err instanceof Error ? err.message : String(err);
    if (this.failures === FAILING_AFTER || (this.failures > FAILING_AFTER && (this.failures - FAILING_AFTER) % REPORT_EVERY === 0)) {
      this.reported = true;
      this.opts.onEvent({ type: 'listenFailing', failures: this.failures, since: this.failingSince, error: this.lastError });
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    if (!this.closed) this.scheduleReconnect(this.opts.minBackoffMs ?? 100);
  }

  private scheduleReconnect(backoffMs: number): void {
    if (this.closed || this.retryTimer) return;
    const max = this.opts.maxBackoffMs ?? 5_000;
    const wait = Math.round(backoffMs * (0.5 + Math.random() * 0.5));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connecting = this.connect(Math.min(max, backoffMs * 2));
    }, wait);
    this.retryTimer.unref();
  }

  /** The synthetic wake-up: an `enqueued` for every task with runnable work. */
  private async recheck(always: boolean): Promise<void> {
    let tasks: string[];
    try {
      tasks = await this.opts.runnableTasks();
    } catch {
      return;
    }
    if (!this.closed && (always || tasks.length > 0)) this.opts.onEvent({ type: 'enqueued', tasks });
  }

  private dispatch(payload: string): void {
    let msg: { t?: string; k?: string[] | null; i?: string | string[] | null; p?: string | null | Array<string | null>; s?: string | string[]; r?: number };
    try {
      msg = JSON.parse(payload) as typeof msg;
    } catch {
      return;
    }
    if (msg.t === 'e') {
      if (Array.isArray(msg.k)) this.opts.onEvent({ type: 'enqueued', tasks: msg.k });
      else void this.recheck(true);
    } else if (msg.t === 'f' && typeof msg.i === 'string') {
      this.opts.onEvent({
        type: 'finished',
        jobId: msg.i,
        parentId: typeof msg.p === 'string' ? msg.p : null,
        state: msg.s as 'succeeded' | 'failed' | 'cancelled',
      });
    } else if (msg.t === 'F') {
      // One notification per statement that finished jobs (migration 006).
      if (Array.isArray(msg.i)) {
        const parents = Array.isArray(msg.p) ? msg.p : [];
        const states = Array.isArray(msg.s) ? msg.s : [];
        for (let n = 0; n < msg.i.length; n++) {
          this.opts.onEvent({ type: 'finished', jobId: msg.i[n]!, parentId: parents[n] ?? null, state: (states[n] ?? 'succeeded') as 'succeeded' | 'failed' | 'cancelled' });
        }
      } else {
        // Too many to list: no `finished` can name them, so wake everyone who re-reads on any event.
        this.opts.onEvent({ type: 'enqueued', tasks: [] });
      }
    } else if (msg.t === 'c' && Array.isArray(msg.i)) {
      this.opts.onEvent({ type: 'cancelRequested', jobIds: msg.i });
    } else if (msg.t === 's' && typeof msg.i === 'string' && typeof msg.r === 'number') {
      this.opts.onEvent({ type: 'snapshotRequested', jobId: msg.i, requestedAt: msg.r });
    }
  }
}
