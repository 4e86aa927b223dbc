import type { Command } from 'commander';
import { example, jsonOption, storeOption, withExistingStore, type StoreOptions } from '../common.js';
import { formatLive, liveLook } from '../live.js';
import { formatJob, print, printJob } from '../output.js';

export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description('show a job: state, attempts, timings, progress, result or error; live: time left, last output, or why it waits')
    .argument('<id>', 'job id');
  jsonOption(cmd, 'the job');
  storeOption(cmd);
  example(cmd, 'vigil status 42', 'vigil status 42 --json');
  cmd.action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
    await withExistingStore(opts, async (vigil) => {
      const job = await vigil.get(id);
      if (opts.json) return printJob(job, true);
      print([formatJob(job), ...formatLive(await liveLook(vigil, job))].join('\n'));
    });
  });
}
