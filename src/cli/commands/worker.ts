import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { durationArg, example, intArg, onSignals, storeOption, type StoreOptions } from '../common.js';
import { formatDuration } from '../../task/duration.js';
import { EXIT } from '../exit.js';
import { logWorkerEvents } from '../worker-log.js';
import { longDuration, type KeepOptions } from '../../task/define.js';
import type { OpsSidecar } from '../../ops/sidecar.js';
import { storeUrlFromEnv } from '../../store/open.js';
import { installTestHooks } from '../../ops/test-hooks.js';

const DEFAULT_DRAIN_MS = 30_000;

interface WorkerCliOptions extends StoreOptions {
  tasks: string;
  concurrency?: number;
  lease?: number;
  drain?: number;
  quiet?: boolean;
  keep?: KeepOptions;
  metricsPort?: number;
  metricsHost: string;
  webhook?: string;
  freezeAfter?: number;
  restartOnFreeze?: number;
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('run a worker until SIGTERM/SIGINT (first drains, second forces)')
    .requiredOption('--tasks <module>', 'tasks module (.ts or .js) that defines the tasks this worker runs')
    .option('--concurrency <n>', 'attempts running at once (default 4)', intArg(1, 10_000))
    .option('--lease <duration>', 'lease length; a dead worker\'s jobs are re-run after it (default 30s)', durationArg(1_000))
    .option('--drain <duration>', 'on the first signal, how long running attempts may finish before they are returned to the queue (default 30s)', durationArg())
    .option('--keep <rules>', 'retention of finished jobs of tasks without their own "keep", e.g. succeeded=7d,failed=30d,logs=3d (default: keep all)', keepArg)
    .option('--quiet', 'do not log job events to stderr')
    .option('--metrics-port <n>', 'serve GET /metrics (Prometheus), /healthz and /readyz on this port (0: any free port)', intArg(0, 65_535))
    .option('--metrics-host <host>', 'address for --metrics-port', '127.0.0.1')
    .option('--webhook <url>', 'POST a JSON alert here on a hang (timeout, stall, oom), a lost worker or a frozen supervisor', urlArg)
    .option('--freeze-after <duration>', "the watchdog calls the supervisor frozen when its event loop has not turned this long (default: lease/3, 1s to 5s)", durationArg(100))
    .option('--restart-on-freeze <duration>', 'end this process when its supervisor has been frozen this long, so systemd/Kubernetes restart it; its jobs come back through their leases', durationArg(100));
  storeOption(cmd);
  example(
    cmd,
    'vigil worker --tasks ./tasks.ts --concurrency 8 --store sqlite:./vigil.db',
    'vigil worker --tasks ./tasks.ts --metrics-port 9464 --restart-on-freeze 30s --webhook https://alerts.example/hook',
  );
  cmd.action(async (opts: WorkerCliOptions) => {
    process.exitCode = await runWorker(opts);
  });
}

function urlArg(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return value;
  } catch {
    throw new InvalidArgumentError('must be an http:// or https:// URL.');
  }
}

async function runWorker(opts: WorkerCliOptions): Promise<number> {
  const drainMs = opts.drain ?? DEFAULT_DRAIN_MS;
  const log = (text: string): void => {
    if (!opts.quiet) process.stderr.write(`${new Date().toISOString()} ${text}\n`);
  };
  const storeUrl = storeUrlFromEnv(opts.store);
  // Loaded here, not at CLI start: every other command would pay for prom-client and Fastify.
  const { startOpsSidecar } = await import('../../ops/sidecar.js');
  const ops: OpsSidecar = await startOpsSidecar({
    storeUrl,
    tasks: opts.tasks,
    metrics: opts.metricsPort !== undefined,
    webhookUrl: opts.webhook,
    log,
  });
  const { vigil } = ops;
  let worker;
  try {
    worker = await vigil.startWorker({
      concurrency: opts.concurrency,
      leaseMs: opts.lease,
      drainMs,
      keep: opts.keep,
      watchdog: {
        ...(opts.freezeAfter !== undefined ? { stallMs: opts.freezeAfter } : {}),
        restartAfterMs: opts.restartOnFreeze ?? null,
        storeUrl,
        webhookUrl: opts.webhook,
      },
    });
    await ops.attach(worker, opts.metricsPort !== undefined ? { port: opts.metricsPort, host: opts.metricsHost } : null);
  } catch (err) {
    await ops.close();
    throw err;
  }
  installTestHooks(worker);
  if (!opts.quiet) logWorkerEvents(worker, vigil);
  log(`worker ${worker.workerId} started: ${worker.slots.capacity} slots, store ${vigil.store.description}`);

  let forced = false;
  const code = await new Promise<number>((resolve) => {
    const off = onSignals(['SIGTERM', 'SIGINT'], (signal, count) => {
      if (count === 1) {
        log(`${signal}: draining (up to ${formatDuration(drainMs)}, no new claims; send it again to force)`);
        worker
          .stop({ drainMs })
          // A forced stop also ends the drain: it must still exit 130, whichever finishes first.
          .then(() => resolve(forced ? EXIT.interrupted : EXIT.ok))
          .catch((err: unknown) => {
            log(`worker: stop failed: ${err instanceof Error ? err.message : String(err)}`);
            resolve(EXIT.failed);
          });
      } else if (count === 2) {
        log(`${signal} again: forcing stop; running attempts are killed and returned to the queue`);
        forced = true;
        off();
        // A third signal gets Node's default behaviour (immediate exit): never trap the user.
        worker.forceStop().finally(() => resolve(EXIT.interrupted));
      }
    });
  });
  await ops.close().catch(() => undefined);
  log(`worker ${worker.workerId} stopped`);
  return code;
}

function keepArg(value: string): KeepOptions {
  const keep: KeepOptions = {};
  for (const part of value.split(',')) {
    const [k, v] = part.split('=').map((x) => x.trim());
    if (!k || !v || !['succeeded', 'failed', 'cancelled', 'logs'].includes(k)) {
      throw new InvalidArgumentError('must be rules like succeeded=7d,failed=30d,logs=3d (states: succeeded, failed, cancelled, logs).');
    }
    try {
      longDuration('(worker)', `--keep ${k}`, v);
    } catch {
      throw new InvalidArgumentError(`${k}=${v}: not a duration like "12h" or "7d".`);
    }
    keep[k as keyof KeepOptions] = v;
  }
  return keep;
}
