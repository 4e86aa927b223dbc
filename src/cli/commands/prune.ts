import { InvalidArgumentError, type Command } from 'commander';
import type { FinishedState } from '../../store/contract.js';
import { longDuration } from '../../task/define.js';
import { example, intArg, jsonOption, storeOption, withVigil, type StoreOptions } from '../common.js';
import { print, printJson } from '../output.js';

const STATES: readonly FinishedState[] = ['succeeded', 'failed', 'cancelled'];

interface PruneOptions extends StoreOptions {
  olderThan: number;
  state?: FinishedState[];
  task?: string;
  logs?: boolean;
  dryRun?: boolean;
  vacuum?: boolean;
  batch: number;
  json?: boolean;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .description('delete finished jobs (with their children, attempts and logs) older than a duration, in small batches')
    .option('--older-than <duration>', 'finished longer ago than this: "30m", "12h", "7d" (default 7d)', durationArgDays, 7 * 86_400_000)
    .option('--state <state>', `only this state (${STATES.join(', ')}); repeat for several (default all three)`, stateArg)
    .option('--task <name>', 'only jobs of this task')
    .option('--logs', 'delete only the log lines of those jobs, keep the jobs and attempts')
    .option('--dry-run', 'count what would be deleted; change nothing')
    .option('--vacuum', 'afterwards, give the freed space back to the disk (SQLite: VACUUM, rewrites the file; PostgreSQL: VACUUM FULL)')
    .option('--batch <n>', 'top-level jobs per transaction', intArg(1, 100_000), 500);
  jsonOption(cmd, '{ jobs, logs, dryRun }');
  storeOption(cmd);
  example(cmd, 'vigil prune --older-than 30d --state succeeded --dry-run', 'vigil prune --older-than 3d --logs', 'vigil prune --older-than 7d --vacuum');
  cmd.action(async (opts: PruneOptions) => {
    await withVigil(opts, async (vigil) => {
      const store = vigil.store;
      const finishedBefore = (await store.now()) - opts.olderThan;
      const tasks = opts.task ? [opts.task] : undefined;
      let jobs = 0;
      let logs = 0;
      for (;;) {
        if (opts.logs) {
          if (opts.dryRun) break;
          const r = await store.pruneLogs({ finishedBefore, tasks, limit: opts.batch });
          logs += r.count;
          if (!r.more) break;
        } else {
          const r = await store.prune({ finishedBefore, states: opts.state ?? [...STATES], tasks, limit: opts.dryRun ? 1_000_000_000 : opts.batch, dryRun: opts.dryRun });
          jobs += r.count;
          if (!r.more || opts.dryRun) break;
        }
      }
      if (opts.vacuum && !opts.dryRun) await store.compact({ full: true });
      if (opts.json) return printJson({ jobs, logs, dryRun: opts.dryRun === true });
      const verb = opts.dryRun ? 'would delete' : 'deleted';
      print(opts.logs ? (opts.dryRun ? 'dry run: --logs counts nothing (log lines are deleted per job)' : `${verb} ${logs} log lines`) : `${verb} ${jobs} jobs (children included)`);
    });
  });
}

function durationArgDays(value: string): number {
  try {
    return longDuration('prune', '--older-than', /^\d+$/.test(value) ? Number(value) : value);
  } catch {
    throw new InvalidArgumentError('must be a duration like "30m", "12h", "7d" or milliseconds.');
  }
}

function stateArg(value: string, previous: FinishedState[] | undefined): FinishedState[] {
  if (!(STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${STATES.join(', ')}.`);
  return [...(previous ?? []), value as FinishedState];
}
