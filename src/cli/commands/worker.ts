import type { Command } from 'commander';
import { durationArg, example, intArg, onSignals, openVigil, storeOption, type StoreOptions } from '../common.js';
import { formatDuration } from '../../task/duration.js';
import { EXIT } from '../exit.js';
import { logWorkerEvents } from '../worker-log.js';
import { InvalidArgumentError } from 'commander';
import { longDuration, type KeepOptions } from '../../task/define.js';

const DEFAULT_DRAIN_MS = 30_000;

interface WorkerCliOptions extends StoreOptions {
  tasks: string;
  concurrency?: number;
  lease?: number;
  drain?: number;
  quiet?: boolean;
  keep?: KeepOptions;
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
    .option('--quiet', 'do not log job events to stderr');
  storeOption(cmd);
  example(cmd, 'vigil worker --tasks ./tasks.ts --concurrency 8 --store sqlite:./vigil.db');
  cmd.action(async (opts: WorkerCliOptions) => {
    process.exitCode = await runWorker(opts);
  });
}

async function runWorker(opts: WorkerCliOptions): Promise<number> {
  const drainMs = opts.drain ?? DEFAULT_DRAIN_MS;
  const vigil = await openVigil(opts, opts.tasks);
  const log = (text: string): void => {
    if (!opts.quiet) process.stderr.write(`${new Date().toISOString()} ${text}\n`);
  };
  let worker;
  try {
    worker = await vigil.startWorker({ concurrency: opts.concurrency, leaseMs: opts.lease, drainMs, keep: opts.keep });
  } catch (err) {
    await vigil.close();
    throw err;
  }
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
  await vigil.close().catch(() => undefined);
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
