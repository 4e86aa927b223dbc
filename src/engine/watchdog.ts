import { hostname } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { NewFreeze } from '../store/contract.js';
import { BACKGROUND_THREAD_LIMITS, STOP_LOADER } from '../background-threads.js';

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
  /** The module that captures and records (watchdog-thread), loaded on the first freeze. */
  moduleUrl: string;
  /** From source: tsx's API, registered in the thread before that module loads. */
  tsxApi: string | null;
  stallMs: number;
  capture: boolean;
  restartAfterMs: number | null;
  storeUrl: string | null;
  workerId: string;
  hostname: string;
  pid: number;
  webhookUrl: string | null;
}

export type WatchdogMessage = { type: 'freeze'; freeze: NewFreeze } | { type: 'storeOpened' } | { type: 'loaderStarted' };

export class Watchdog {
  private readonly stamp = new Float64Array(new SharedArrayBuffer(8));
  private readonly timer: NodeJS.Timeout;
  private readonly thread: Worker;
  private threadHasStore = false;
  /** From source: the thread registered tsx, whose esbuild service must be stopped before the thread ends. */
  private threadHasLoader = false;

  constructor(options: WatchdogOptions = {}) {
    const beatMs = options.beatMs ?? 250;
    const stallMs = options.stallMs ?? 5_000;
    this.stamp[0] = Date.now();
    this.timer = setInterval(() => (this.stamp[0] = Date.now()), beatMs);
    this.timer.unref();
    const entry = threadModule();
    const data: WatchdogThreadData = {
      buffer: this.stamp.buffer as SharedArrayBuffer,
      moduleUrl: entry.url,
      tsxApi: entry.tsxApi,
      stallMs,
      capture: options.capture ?? true,
      restartAfterMs: options.restartAfterMs ?? null,
      storeUrl: options.storeUrl ?? null,
      workerId: options.workerId ?? `${hostname()}:${process.pid}`,
      hostname: hostname(),
      pid: process.pid,
      webhookUrl: options.webhookUrl ?? null,
    };
    this.thread = new Worker(THREAD, { eval: true, workerData: data, stdout: false, stderr: false, resourceLimits: BACKGROUND_THREAD_LIMITS });
    this.thread.on('message', (m: WatchdogMessage) => {
      if (m.type === 'freeze') options.onFreeze?.(m.freeze);
      if (m.type === 'storeOpened') this.threadHasStore = true;
      if (m.type === 'loaderStarted') this.threadHasLoader = true;
    });
    this.thread.on('error', (err) => process.stderr.write(`[vigil watchdog] the watchdog thread failed: ${err.message}\n`));
    this.thread.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // Nothing to close in the thread (the usual case: it opens its store only on a freeze): end it at once.
    if (!this.threadHasStore && !this.threadHasLoader) {
      await this.thread.terminate();
      return;
    }
    // Ask first so the thread closes its store connection and stops its loader's esbuild; terminate if it does not
    // go in time.
    const exited = new Promise<void>((resolve) => this.thread.once('exit', () => resolve()));
    this.thread.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 1_500)))]);
    clearTimeout(timer);
    if (late) await this.thread.terminate();
  }
}

/**
 * The thread's module: from dist a plain .js file; from source (tests, tsx) a .ts file that needs tsx registered in
 * the thread first (module hooks do not reach worker threads in Node 20).
 */
function threadModule(): { url: string; tsxApi: string | null } {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  const url = pathToFileURL(fileURLToPath(new URL(`./watchdog-thread.${fromSource ? 'ts' : 'js'}`, import.meta.url))).href;
  return { url, tsxApi: fromSource ? import.meta.resolve('tsx/esm/api') : null };
}

/**
 * The watching, as a tiny eval'd script: every worker runs it, so it loads nothing. The capture module (inspector,
 * forensics, a store connection) is loaded on the first freeze only, and the stack is taken only if the loop is
 * still frozen once it is loaded. Dynamic imports: an eval'd thread is CommonJS or ESM depending on the flags.
 */
const THREAD = `
(async () => {
const { workerData: data, parentPort } = await import('node:worker_threads');
const { writeSync } = await import('node:fs');
const say = (text) => { try { writeSync(2, text); } catch {} };
const stamp = new Float64Array(data.buffer);
let mod = null;
// From source, tsx compiles the capture module in this thread's own loader thread, whose esbuild service is a child
// process that thread started: when this thread ends, that loop ends with it and nobody reaps the esbuild process
// (a zombie of the supervisor). At stop, LOADER_REAPER is registered in the same loader thread (not before: the capture
// must not wait for it) and stops esbuild there, waiting for its exit.
let loaderRegistered = false;
const registerLoader = async () => {
  (await import(data.tsxApi)).register();
  loaderRegistered = true;
  parentPort.postMessage({ type: 'loaderStarted' });
};
const stopLoader = async () => {
  if (!loaderRegistered) return;
  await (${STOP_LOADER})(data.tsxApi);
};
const load = () => (mod ??= (data.tsxApi ? registerLoader() : Promise.resolve()).then(() => import(data.moduleUrl)));
const frozenFor = () => Date.now() - stamp[0];
let frozenSince = 0;
let captured = false;
let restarting = false;
async function capture() {
  const m = await load();
  const age = frozenFor();
  if (age <= data.stallMs) { say('[vigil watchdog] the supervisor ran again before its stack could be taken\\n'); return; }
  await m.record('logged', age);
}
async function restart(age) {
  restarting = true;
  say('[vigil watchdog] the supervisor has been frozen ' + age + ' ms (over --restart-on-freeze); ending the process so it is restarted — its jobs come back through their leases\\n');
  // Bounded: the process ends even if the record cannot be taken or stored.
  await Promise.race([load().then((m) => m.record('restart', frozenFor())).catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
  // SIGKILL: the frozen main thread would never run a SIGTERM handler. Executor processes die with their parent (G1).
  process.kill(process.pid, 'SIGKILL');
}
setInterval(() => {
  if (restarting) return;
  const age = frozenFor();
  if (data.restartAfterMs !== null && age > data.restartAfterMs) { void restart(age); return; }
  if (age > data.stallMs && !frozenSince) {
    frozenSince = stamp[0];
    say('[vigil watchdog] the supervisor event loop has not turned for ' + age + ' ms (pid ' + data.pid + '); leases are not being renewed\\n');
    if (data.capture && !captured) {
      captured = true;
      capture().catch((err) => say('[vigil watchdog] capture failed: ' + (err && err.message) + '\\n'));
    }
  } else if (age <= data.stallMs && frozenSince) {
    say('[vigil watchdog] the supervisor event loop is running again after ' + (stamp[0] - frozenSince) + ' ms frozen\\n');
    frozenSince = 0;
    captured = false;
  }
}, Math.max(20, Math.min(250, data.stallMs / 4))).unref();
parentPort.on('message', () => {
  (mod ? mod.then((m) => m.close()) : Promise.resolve()).catch(() => undefined).then(stopLoader).finally(() => process.exit(0));
});
})();
`;
