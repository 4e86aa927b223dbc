import type { Command } from 'commander';
import { isTerminal } from '../../engine/waiter.js';
import type { LogLine } from '../../types.js';
import type { Vigil } from '../../vigil.js';
import { example, intArg, sleep, storeOption, withExistingStore, type StoreOptions } from '../common.js';
import { jobExitCode } from '../exit.js';
import { iso, print } from '../output.js';
import { attemptMarker } from '../follow.js';

const PAGE = 1000;
const FOLLOW_POLL_MS = 200;

interface LogsOptions extends StoreOptions {
  follow?: boolean;
  attempt?: number;
  json?: boolean;
}

export function registerLogs(program: Command): void {
  const cmd = program
    .command('logs')
    .description('print a job\'s output as "ts stream line", each attempt under a "--- job N, attempt A ---" line once it was retried (--follow: until it ends)')
    .argument('<id>', 'job id')
    .option('-f, --follow', 'keep printing new lines until the job ends, then exit 0 if it succeeded else 1')
    .option('--attempt <n>', 'only the lines of this attempt', intArg(1))
    .option('--json', 'print one JSON object per line (jobId, attempt, seq, ts, stream, line)');
  storeOption(cmd);
  example(cmd, 'vigil logs 42', 'vigil logs 42 --follow --attempt 2');
  cmd.action(async (id: string, opts: LogsOptions) => {
    process.exitCode = await withExistingStore(opts, async (vigil) => {
      let job = await vigil.get(id);
      // A job that ran once needs no marker; after a retry every attempt's lines get one, so repeats are not dupes.
      let attempt = job.attempts > 1 ? 0 : 1;
      const show = (lines: LogLine[]): void => {
        for (const l of lines) {
          if (!opts.json && l.attempt !== attempt) print(attemptMarker(id, l.attempt));
          attempt = l.attempt;
          print(opts.json ? JSON.stringify(l) : `${iso(l.ts)} ${l.stream} ${l.line}`);
        }
      };
      let afterSeq = await drain(vigil, id, 0, opts.attempt, show);
      if (!opts.follow) return 0;
      while (!isTerminal(job)) {
        await sleep(FOLLOW_POLL_MS);
        // State first, then lines: lines written before the job ended are all visible once it reads terminal.
        job = await vigil.get(id);
        afterSeq = await drain(vigil, id, afterSeq, opts.attempt, show);
      }
      return jobExitCode(job.state);
    });
  });
}

/** Prints every line after `afterSeq`, page by page; returns the last seq seen. */
async function drain(vigil: Vigil, id: string, afterSeq: number, attempt: number | undefined, show: (lines: LogLine[]) => void): Promise<number> {
  for (;;) {
    const lines = await vigil.logs(id, { afterSeq, limit: PAGE, attempt });
    show(lines);
    if (lines.length > 0) afterSeq = lines[lines.length - 1]!.seq;
    if (lines.length < PAGE) return afterSeq;
  }
}
