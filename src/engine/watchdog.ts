import { Worker } from 'node:worker_threads';

/**
 * G8: the supervisor's own freeze is noticed from outside its event loop. The main loop stamps a shared clock every
 * `beatMs`; a small thread (Vigil's code, never task code) checks the stamp and reports when the loop has not turned
 * for `stallMs` — and again when it recovers, with how long it was frozen. A frozen supervisor also stops renewing
 * leases, so its jobs are recovered by other workers: the watchdog is what tells the operator why.
 */
export interface WatchdogOptions {
  beatMs?: number;
  stallMs?: number;
}

// Dynamic imports: an eval'd thread is CommonJS or ESM depending on the process's flags.
const THREAD = `
(async () => {
const { workerData, parentPort } = await import('node:worker_threads');
const { writeSync } = await import('node:fs');
// writeSync on fd 2: a thread's process.stderr is relayed through the main thread, which is the one frozen.
const say = (text) => { try { writeSync(2, text); } catch {} };
const stamp = new Float64Array(workerData.buffer);
let frozenSince = 0;
setInterval(() => {
  const age = Date.now() - stamp[0];
  if (age > workerData.stallMs && !frozenSince) {
    frozenSince = stamp[0];
    say('[vigil watchdog] the supervisor event loop has not turned for ' + age + ' ms (pid ' + process.pid + '); leases are not being renewed\\n');
  } else if (age <= workerData.stallMs && frozenSince) {
    say('[vigil watchdog] the supervisor event loop is running again after ' + (stamp[0] - frozenSince) + ' ms frozen\\n');
    frozenSince = 0;
  }
}, Math.max(50, workerData.stallMs / 4)).unref();
parentPort.on('message', () => process.exit(0));
})();
`;

export class Watchdog {
  private readonly stamp = new Float64Array(new SharedArrayBuffer(8));
  private readonly timer: NodeJS.Timeout;
  private readonly thread: Worker;

  constructor(options: WatchdogOptions = {}) {
    const beatMs = options.beatMs ?? 250;
    const stallMs = options.stallMs ?? 5_000;
    this.stamp[0] = Date.now();
    this.timer = setInterval(() => (this.stamp[0] = Date.now()), beatMs);
    this.timer.unref();
    this.thread = new Worker(THREAD, { eval: true, workerData: { buffer: this.stamp.buffer, stallMs }, stdout: false, stderr: false });
    this.thread.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.thread.terminate();
  }
}
