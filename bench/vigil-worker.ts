// One Vigil worker process for bench/peers.ts (forked with `node --import tsx`): opens the store it is given, starts
// a worker, and reports over IPC what the bench measures from outside — the first handler start (or every start),
// when a killed attempt's thread was gone, and on request its own RSS and its executor hosts' RSS. The bench fills
// the queue and polls the store from its own process and connection, as it does for the peers: nothing the bench
// does runs on this worker's event loop.
// The build, as bench/peers.ts uses (it builds first).
import { Vigil } from '../dist/src/vigil.js';
import { ThreadExecutor } from '../dist/src/executors/thread-executor.js';
import type { AttemptChannel, AttemptSpec, Executor, PrewarmRequest, RunningAttempt } from '../dist/src/executors/types.js';
import { epochNow, procMem, type FromWorker, type ProcMem, type ToWorker, type WorkerConfig } from './worker-ipc.js';

/** Wraps the thread executor: times the end of killed attempts, and names the host pids (not the guardian's). */
class TimedExecutor implements Executor {
  constructor(
    readonly inner: ThreadExecutor,
    private readonly graceMs: number,
  ) {}
  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt {
    const attempt = this.inner.start(spec, channel);
    void attempt.done.then((end) => {
      // Attempts that ended past their deadline: the killed ones are timed; others (a host lost, say) are counted.
      const lateMs = epochNow() - (spec.endsAt + this.graceMs);
      if (end.type === 'killed' || lateMs > -this.graceMs) send({ type: 'gone', jobId: spec.jobId, lateMs, end: end.type });
    });
    return attempt;
  }
  // Without it the wrapper hid the thread executor's warm-up from startWorker: the first attempts waited for cold
  // threads (0.75-1.5 s from source), inside the drain clock — a cost `vigil worker` does not have.
  prewarm(request: PrewarmRequest): Promise<void> {
    return this.inner.prewarm(request);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function send(message: FromWorker): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as WorkerConfig;
  const vigil = await Vigil.open({ store: config.store, tasks: config.tasks });
  const threads = new ThreadExecutor();
  let hostsPeak = 0;
  const hostsNow = (): Array<ProcMem & { pid: number }> =>
    threads.hostPids().flatMap((pid) => {
      const m = procMem(pid);
      return m ? [{ pid, ...m }] : [];
    });
  const sample = (): void => {
    hostsPeak = Math.max(hostsPeak, hostsNow().reduce((a, h) => a + h.rssMiB, 0));
  };
  if (config.sampleMs > 0) setInterval(sample, config.sampleMs).unref();
  const worker = await vigil.startWorker({ concurrency: config.concurrency, leaseMs: config.leaseMs, executors: { thread: new TimedExecutor(threads, config.graceMs) } });
  let reported = false;
  worker.on('event', (e: { type: string; jobId?: string; attempt?: number; jobs?: Array<{ jobId: string }> }) => {
    if (e.type === 'recovered') send({ type: 'recovered', jobIds: e.jobs!.map((j) => j.jobId), at: epochNow() });
    if (e.type !== 'started' || (config.starts === 'first' && reported)) return;
    reported = true;
    send({ type: 'started', jobId: e.jobId!, attempt: e.attempt!, at: epochNow() });
  });
  process.on('message', (m: ToWorker) => {
    if (m.type === 'mem') {
      sample();
      send({ type: 'mem', supervisor: procMem(process.pid)!, hosts: hostsNow(), hostsPeakMiB: hostsPeak });
    } else if (m.type === 'stop') {
      void (async () => {
        await worker.stop({ drainMs: m.drainMs });
        await vigil.close();
        send({ type: 'stopped' });
        process.disconnect();
      })();
    }
  });
  // The bench went away without a stop: nothing of this worker may outlive it.
  process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
  send({ type: 'ready', pid: process.pid });
}

await main();
