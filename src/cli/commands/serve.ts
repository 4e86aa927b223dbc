import type { Command } from 'commander';
import { durationArg, example, intArg, onSignals, openVigil, storeOption, type StoreOptions } from '../common.js';
import { UsageError } from '../../errors.js';
import { formatDuration } from '../../task/duration.js';
import { EXIT } from '../exit.js';

const DEFAULT_DRAIN_MS = 30_000;

interface ServeCliOptions extends StoreOptions {
  host: string;
  port: number;
  tasks?: string;
  concurrency?: number;
  lease?: number;
  worker: boolean;
  queueLimit?: number;
  taskQueueLimit?: number;
  drain?: number;
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve the HTTP API and the dashboard, with a worker, until SIGTERM/SIGINT (first drains, second forces)')
    .option('--host <address>', 'address to listen on; anything but loopback needs $VIGIL_TOKEN', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', intArg(0, 65_535), 7070)
    .option('--tasks <module>', 'tasks module (.ts or .js); needed unless --no-worker')
    .option('--concurrency <n>', 'attempts the worker runs at once (default 4)', intArg(1, 10_000))
    .option('--lease <duration>', 'lease length; a dead server\'s jobs are re-run after it (default 30s)', durationArg(1_000))
    .option('--no-worker', 'serve only: jobs are run by separate `vigil worker` processes on the same store')
    .option('--queue-limit <n>', 'queued jobs past which submits get 429 with Retry-After', intArg(1))
    .option('--task-queue-limit <n>', 'queued jobs of one task past which its submits get 429', intArg(1))
    .option('--drain <duration>', 'on the first signal, how long running attempts may finish (default 30s)', durationArg());
  storeOption(cmd);
  example(cmd, 'vigil serve --tasks ./tasks.ts --port 7070', 'VIGIL_TOKEN=$(openssl rand -hex 32) vigil serve --host 0.0.0.0 --no-worker --store postgres://db/vigil');
  cmd.action(async (opts: ServeCliOptions) => {
    process.exitCode = await serve(opts);
  });
}

async function serve(opts: ServeCliOptions): Promise<number> {
  if (opts.worker && !opts.tasks) {
    throw new UsageError('VIGIL_USAGE', 'vigil serve runs a worker, which needs --tasks <module> (or pass --no-worker to serve only)');
  }
  const drainMs = opts.drain ?? DEFAULT_DRAIN_MS;
  const vigil = await openVigil(opts, opts.tasks);
  let server;
  try {
    server = await vigil.serve({
      host: opts.host,
      port: opts.port,
      worker: opts.worker ? { concurrency: opts.concurrency, leaseMs: opts.lease, drainMs } : false,
      queueLimit: { total: opts.queueLimit, perTask: opts.taskQueueLimit },
      drainMs,
    });
  } catch (err) {
    await vigil.close();
    throw err;
  }
  const log = server.app.log;
  log.info(
    { url: server.url, store: vigil.store.description, worker: server.worker?.workerId ?? null },
    `vigil serve: ${server.url} (dashboard at /, API under /api, OpenAPI at /api/openapi.json)`,
  );
  let forced = false;
  const code = await new Promise<number>((resolve) => {
    const off = onSignals(['SIGTERM', 'SIGINT'], (signal, count) => {
      if (count === 1) {
        log.info(`${signal}: draining (up to ${formatDuration(drainMs)}, no new claims; send it again to force)`);
        server
          .close({ drainMs })
          .then(() => resolve(forced ? EXIT.interrupted : EXIT.ok))
          .catch((err: unknown) => {
            log.error({ err }, 'stop failed');
            resolve(EXIT.failed);
          });
      } else if (count === 2) {
        log.warn(`${signal} again: forcing stop; running attempts are killed and returned to the queue`);
        forced = true;
        off();
        void (server.worker ? server.worker.forceStop() : Promise.resolve()).finally(() => resolve(EXIT.interrupted));
      }
    });
  });
  await vigil.close().catch(() => undefined);
  log.info('vigil serve: stopped');
  return code;
}
