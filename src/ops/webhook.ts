import type { OpsAlert } from './alerts.js';

export interface WebhookOptions {
  /** Tries per alert (first + retries). Default 4. */
  attempts?: number;
  /** Per try. Default 5 s. */
  timeoutMs?: number;
  /** First retry delay, doubled each time. Default 500 ms. */
  backoffMs?: number;
  /** Alerts waiting at most; the oldest is dropped beyond it. Default 100. */
  maxQueue?: number;
  /** Told about alerts given up on (default: a line on stderr). */
  onDrop?(alert: OpsAlert, reason: string): void;
}

/**
 * POSTs alerts as JSON to one URL. `send` only enqueues: the engine never waits on the network. One delivery at a
 * time, each try bounded, retried with backoff, the queue bounded: a webhook that never answers costs at most one
 * open request and `maxQueue` small objects, and `close()` abandons it at once.
 */
export class WebhookSender {
  private readonly queue: OpsAlert[] = [];
  private running = false;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;
  private readonly maxQueue: number;
  private idle: Promise<void> = Promise.resolve();
  readonly stats = { sent: 0, failed: 0, dropped: 0 };

  constructor(readonly url: string, private readonly options: WebhookOptions = {}) {
    new URL(url); // throws TypeError on a malformed URL: a usage error, caught before anything runs
    this.attempts = options.attempts ?? 4;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxQueue = options.maxQueue ?? 100;
  }

  send(alert: OpsAlert): void {
    if (this.closed) return;
    this.queue.push(alert);
    while (this.queue.length > this.maxQueue) this.drop(this.queue.shift()!, `more than ${this.maxQueue} alerts waiting`);
    if (!this.running) this.idle = this.drain();
  }

  /** Resolves once queued alerts are delivered or given up on, or after `waitMs`; then abandons the rest. */
  async close(waitMs = 0): Promise<void> {
    if (waitMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    this.abort.abort();
    for (const a of this.queue.splice(0)) this.drop(a, 'closed before delivery');
    await this.idle;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const alert = this.queue.shift()!;
        await this.deliver(alert);
      }
    } finally {
      this.running = false;
    }
  }

  private async deliver(alert: OpsAlert): Promise<void> {
    let reason = '';
    for (let attempt = 1; attempt <= this.attempts && !this.closed; attempt++) {
      try {
        const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]);
        const res = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert), signal });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          this.stats.sent++;
          return;
        }
        reason = `HTTP ${res.status}`;
        // A 4xx other than 408/429 will not get better by asking again.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } catch (err) {
        reason = err instanceof Error ? (err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : err.message) : String(err);
      }
      if (attempt < this.attempts) await this.sleep(this.backoffMs * 2 ** (attempt - 1));
    }
    this.stats.failed++;
    this.drop(alert, reason || 'closed');
  }

  private drop(alert: OpsAlert, reason: string): void {
    this.stats.dropped++;
    if (this.options.onDrop) this.options.onDrop(alert, reason);
    else process.stderr.write(`[vigil webhook] alert ${alert.type} not delivered to ${redact(this.url)}: ${reason}\n`);
  }

  private sleep(ms: number): Promise<void> {
    // Aborted already: an unref'd timer nobody clears would leave close() awaiting a promise with an empty loop.
    if (this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}

/** Webhook URLs often carry a token: never print more than scheme, host and path. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
