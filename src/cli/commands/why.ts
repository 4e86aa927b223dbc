import type { Command } from 'commander';
import { example, jsonOption, storeOption, withVigil, type StoreOptions } from '../common.js';
import { formatWhy } from '../../why/explain.js';

export function registerWhy(program: Command): void {
  const cmd = program
    .command('why')
    .description('why a job is not running or not finished: its cause, and for a parent the same answer for each unfinished child, down the wait-for graph')
    .argument('<id>', 'job id');
  jsonOption(cmd, 'the answer (code, summary, children, deadEnd)');
  storeOption(cmd);
  example(cmd, 'vigil why 42', 'vigil why 42 --json');
  cmd.action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
    await withVigil(opts, async (vigil) => {
      const answer = await vigil.why(id);
      process.stdout.write(opts.json ? `${JSON.stringify(answer, null, 2)}\n` : `${formatWhy(answer)}\n`);
    });
  });
}
