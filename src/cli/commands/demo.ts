import type { Command } from 'commander';
import { runDemo } from '../../demo/run.js';
import { formatSummary } from '../../demo/summary.js';
import { example, onSignals } from '../common.js';
import { EXIT } from '../exit.js';
import { print, printJson } from '../output.js';

interface DemoCliOptions {
  store?: string;
  input?: string[];
  faults: boolean;
  json?: boolean;
  keep?: boolean;
}

/** `vigil demo` (= `npm start`): the highlights pipeline of examples/highlights, with faults injected on purpose. */
export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description('run the example audio-highlights pipeline on a worker of 2 slots, inject faults, and show how each is handled')
    .option('--store <url>', 'store URL (default: a SQLite file in a fresh temporary directory)')
    .option('--input <wav...>', '16-bit PCM WAV files to analyse instead of the synthesised tracks')
    .option('--no-faults', 'run without the injected faults (no hang, no prompt, no corrupt window, no worker crash)')
    .option('--keep', 'keep the temporary directory (tracks, worker logs, the default store) and print its path')
    .option('--json', 'print the summary as JSON');
  example(cmd, 'vigil demo', 'vigil demo --no-faults --input ./a.wav ./b.wav', 'vigil demo --store sqlite:./demo.db --json');
  cmd.action(async (opts: DemoCliOptions) => {
    const abort = new AbortController();
    // First Ctrl-C: stop polling, stop the workers, clean up. A second one gets the default behaviour.
    const off = onSignals(['SIGINT', 'SIGTERM'], (_signal, count) => {
      if (count === 1) abort.abort();
      else off();
    });
    try {
      const { summary, workDir } = await runDemo({ store: opts.store, inputs: opts.input ?? [], faults: opts.faults, keep: opts.keep, signal: abort.signal });
      if (opts.json) printJson(summary);
      else print(formatSummary(summary));
      if (opts.keep) process.stderr.write(`kept ${workDir}\n`);
      process.exitCode = summary.ok ? EXIT.ok : EXIT.failed;
    } finally {
      off();
    }
    if (abort.signal.aborted) process.exitCode = EXIT.interrupted;
  });
}
