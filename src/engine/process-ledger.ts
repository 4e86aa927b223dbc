import type { Store } from '../store/contract.js';
import { ownerAlive, reapRoots, selfIdentity, startedProcesses } from '../executors/roots.js';

/**
 * Keeps the store's record of the processes this worker's process started (executors/roots.ts) up to date, and on
 * start (then now and then) reaps what dead workers on this machine left running: a SIGKILLed supervisor can kill
 * nothing itself, so the next worker on the host does it.
 */

/** Changes are written at most this often: one small write, not one per program started. */
const FLUSH_MS = 100;
/** Dead roots are pruned and other workers' leftovers looked for this often. */
const SWEEP_MS = 10_000;

export interface LedgerDeps {
  store: Store;
  workerId: string;
  onReaped(count: number, fromWorker: string, what: string): void;
  onError(message: string, error: unknown): void;
}

export class ProcessLedger {
  private flushTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private lastWritten = '';
  private closed = false;
  private readonly off: () => void;

  constructor(private readonly deps: LedgerDeps) {
    this.off = startedProcesses.onChange(() => this.schedule());
  }

  /** Reaps leftovers of dead workers on this host, then records this process's roots. */
  async start(): Promise<void> {
    await this.reap();
    this.schedule();
    this.sweepTimer = setInterval(() => {
      this.schedule();
      void this.reap();
    }, SWEEP_MS);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.off();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.writing;
    // Everything this worker started is over by now (the worker closes after its attempts): nothing to reap later.
    await this.write([]).catch(() => undefined);
  }

  private schedule(): void {
    if (this.closed || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.writing = this.writing.then(() => this.write(startedProcesses.live())).catch((err: unknown) => {
        // The record is a backstop: a failed write is retried with the next change or sweep.
        this.lastWritten = '';
        this.deps.onError('recording the processes this worker started failed (retried)', err);
      });
    }, FLUSH_MS);
    this.flushTimer.unref();
  }

  private async write(roots: ReturnType<typeof startedProcesses.live>): Promise<void> {
    const key = JSON.stringify(roots);
    if (key === this.lastWritten) return;
    const me = selfIdentity();
    await this.deps.store.saveProcessRoots({ workerId: this.deps.workerId, host: me.host, bootId: me.bootId, ownerPid: me.pid, ownerStart: me.start, roots });
    this.lastWritten = key;
  }

  private async reap(): Promise<void> {
    const me = selfIdentity();
    if (!me.bootId) return;
    try {
      for (const record of await this.deps.store.listProcessRoots(me.host)) {
        if (record.workerId === this.deps.workerId) continue;
        if (record.bootId === me.bootId && ownerAlive(record)) continue;
        if (record.bootId === me.bootId) {
          const killed = reapRoots(record.roots);
          if (killed.length > 0) this.deps.onReaped(killed.length, record.workerId, killed.map((s) => `${s.pid} (${s.comm})`).join(', '));
        }
        await this.deps.store.saveProcessRoots({ ...record, roots: [] });
      }
    } catch (err) {
      this.deps.onError('looking for processes left by crashed workers on this host failed (retried)', err);
    }
  }
}
