// A peer's worker in a process of its own, for bench/peers.ts crash recovery: the bench SIGKILLs it while its jobs
// run and times how long until they run on another worker. Reports every handler start over IPC.
import type { FromWorker } from './worker-ipc.js';

export interface PeerWorkerConfig {
  peer: 'bullmq' | 'graphile-worker';
  /** BullMQ queue name, or graphile-worker schema. */
  queue: string;
  concurrency: number;
  /** BullMQ lockDuration (the lease); graphile-worker has no such setting. */
  lockMs: number;
  redis: { host: string; port: number };
  pgUrl: string;
}

const epochNow = (): number => performance.timeOrigin + performance.now();
const send = (m: FromWorker): void => void process.send?.(m);
const HOLD_MS = 60_000;

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as PeerWorkerConfig;
  const hold = (): Promise<void> => new Promise((r) => setTimeout(r, HOLD_MS));
  if (config.peer === 'bullmq') {
    const { Worker } = await import('bullmq');
    const w = new Worker(
      config.queue,
      async (job) => {
        send({ type: 'started', jobId: job.id!, attempt: job.attemptsMade + 1, at: epochNow() });
        await hold();
      },
      { connection: config.redis, concurrency: config.concurrency, lockDuration: config.lockMs, stalledInterval: Math.max(500, config.lockMs / 2) },
    );
    await w.waitUntilReady();
  } else {
    const gw = await import('graphile-worker');
    await gw.run({
      connectionString: config.pgUrl,
      schema: config.queue,
      concurrency: config.concurrency,
      noHandleSignals: true,
      pollInterval: 1_000,
      logger: new gw.Logger(() => () => undefined),
      taskList: {
        held: async (_payload, helpers) => {
          send({ type: 'started', jobId: String(helpers.job.id), attempt: helpers.job.attempts, at: epochNow() });
          await hold();
        },
      },
    });
  }
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', pid: process.pid });
}

await main();
