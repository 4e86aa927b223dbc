import type { Command } from 'commander';
import { example, jsonOption, storeOption, withExistingStore, type StoreOptions } from '../common.js';
import { printJob } from '../output.js';

type Opts = StoreOptions & { json?: boolean; reason?: string };

/** `cancel` and `retry`: one state change each, then the job as it is after it. */
export function registerControl(program: Command): void {
  const cancel = program
    .command('cancel')
    .description('cancel a job and its children; print the job')
    .argument('<id>', 'job id')
    .option('--reason <text>', 'recorded as the cancellation message', 'cancelled from the command line');
  jsonOption(cancel, 'the job');
  storeOption(cancel);
  example(cancel, 'vigil cancel 42');
  cancel.action(async (id: string, opts: Opts) => {
    await withExistingStore(opts, async (vigil) => printJob(await vigil.cancel(id, opts.reason), opts.json));
  });

  const retry = program
    .command('retry')
    .description('re-queue a failed or cancelled job with a fresh attempt budget')
    .argument('<id>', 'job id');
  jsonOption(retry, 'the job');
  storeOption(retry);
  example(retry, 'vigil retry 42');
  retry.action(async (id: string, opts: Opts) => {
    await withExistingStore(opts, async (vigil) => printJob(await vigil.retry(id), opts.json));
  });
}
