import { hostname } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { NewFreeze } from '../store/contract.js';

/**
 * G8: the supervisor's own freeze is noticed from outside its event loop. The main loop stamps a shared clock every
 * `beatMs`; a small thread (Vigil's code, never task code) checks the stamp and, when the loop has not turned for
 * `stallMs`, takes the main thread's JS stack through the inspector (`Session.connectToMainThread`), logs it, stores
 * it (its own store connection, so it works while the main loop is frozen) and tells the main thread, which counts
 * it once it runs again. With `restartAfterMs` it ends the process: a supervisor (systemd, Kubernetes, the `serve`
 * parent) restarts it and the jobs come back through their leases. A frozen supervisor also stops renewing leases,
 * so its jobs are recovered by other workers: the watchdog is what tells the operator why, and where.
 */
export interface WatchdogOptions {
  beatMs?: number;
  /** A loop that has not turned this long is frozen. Default 5 s. */
  stallMs?: number;
  /** Take the frozen supervisor's JS stack. Default true. */
  capture?: boolean;
  /** End the process (SIGKILL) once frozen this long. Default: never. */
  restartAfterMs?: number | null;
  /** Where the thread records freezes (its own connection). Without it, only `onFreeze` hears of them. */
  storeUrl?: string;
  workerId?: string;
  /** POSTed by the watchdog thread itself: the main loop that sends other alerts is the one frozen. */
  webhookUrl?: string;
  /** Called on the main thread once it runs again (never, if the process was ended first). */
  onFreeze?(freeze: NewFreeze): void;
}

/** What the thread gets (structured-cloned). */
export interface WatchdogThreadData {
  buffer: SharedArrayBuffer;
  stallMs: number;
  capture: boolean;
  restartAfterMs: number | null;
  storeUrl: string | null;
  workerId: string;
  hostname: string;
  pid: number;
  webhookUrl: string | null;
}

export type WatchdogMessage = { type: 'freeze'; freeze: NewFreeze } | { type: 'storeOpened' };

export class Watchdog {
  private readonly stamp = new Float64Array(new SharedArrayBuffer(8));
  private readonly timer: NodeJS.Timeout;
  private readonly thread: Worker;
  private threadHasStore = false;

  constructor(options: WatchdogOptions = {}) {
    const beatMs = options.beatMs ?? 250;
    const stallMs = options.stallMs ?? 5_000;
    this.stamp[0] = Date.now();
    this.timer = setInterval(() => (this.stamp[0] = Date.now()), beatMs);
    this.timer.unref();
    const data: WatchdogThreadData = {
      buffer: this.stamp.buffer as SharedArrayBuffer,
      stallMs,
      capture: options.capture ?? true,
      restartAfterMs: options.restartAfterMs ?? null,
      storeUrl: options.storeUrl ?? null,
      workerId: options.workerId ?? `${hostname()}:${process.pid}`,
      hostname: hostname(),
      pid: process.pid,
      webhookUrl: options.webhookUrl ?? null,
    };
    const entry = threadEntry();
    this.thread = new Worker(entry.filename, { eval: entry.eval, workerData: data, stdout: false, stderr: false });
    this.thread.on('message', (m: WatchdogMessage) => {
      if (m.type === 'freeze') options.onFreeze?.(m.freeze);
      if (m.type === 'storeOpened') this.threadHasStore = true;
    });
    this.thread.on('error', (err) => process.stderr.write(`[vigil watchdog] the watchdog thread failed: ${err.message}\n`));
    this.thread.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // Nothing to close in the thread (the usual case: it opens its store only on a freeze): end it at once.
    if (!this.threadHasStore) {
      await this.thread.terminate();
      return;
    }
    // Ask first so the thread closes its store connection; terminate if it does not go in time.
    const exited = new Promise<void>((resolve) => this.thread.once('exit', () => resolve()));
    this.thread.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 1_500)))]);
    clearTimeout(timer);
    if (late) await this.thread.terminate();
  }
}

/**
 * The thread's module: from dist a plain .js file; from source (tests, tsx) a .ts file, and module hooks do not reach
 * worker threads in Node 20, so a tiny eval bootstrap registers tsx in the thread first.
 */
function threadEntry(): { filename: string | URL; eval: boolean } {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  const file = new URL(`./watchdog-thread.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return { filename: file, eval: false };
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(fileURLToPath(file)).href)}); });`;
  return { filename: code, eval: true };
}
