import type { Command } from 'commander';
import { durationArg, example, intArg, jsonOption, storeOption, withVigil, type StoreOptions } from '../common.js';
import { jobExitCode } from '../exit.js';
import { isManyInputs, readInput, readManyInputs } from '../input.js';
import { UsageError } from '../../errors.js';
import { print, printJob } from '../output.js';
import { streamLogs } from '../follow.js';
import { stderrLine, withProgressBar } from '../progress.js';

interface SubmitCliOptions extends StoreOptions {
  input?: string;
  tasks?: string;
  wait?: boolean;
  waitTimeout?: number;
  quiet?: boolean;
  key?: string;
  priority?: number;
  delay?: number;
  json?: boolean;
}

export function registerSubmit(program: Command): void {
  const cmd = program
    .command('submit')
    .description('enqueue a job for a worker; print its id (--wait: the final job)')
    .argument('<task>', 'task name')
    .option('--input <json|@file>', 'job input: inline JSON, @path of a JSON file, or @- for stdin (default: null); @path.ndjson: one job per line, all in one transaction, none if a line is bad')
    .option('--tasks <module>', 'tasks module to check the task name and options against (else: tasks announced by workers)')
    .option('--wait', 'wait for the job to end, streaming its output to stderr; print it, exit 0 if it succeeded else 1')
    .option('--wait-timeout <duration>', 'with --wait: give up waiting after this long (exit 1; the job keeps going)', durationArg(1))
    .option('--quiet', 'with --wait: do not stream the job\'s output')
    .option('--key <key>', 'idempotency key: submitting the same key again returns the first job')
    .option('--priority <n>', 'higher runs first (default 0)', intArg(-1_000_000, 1_000_000))
    .option('--delay <duration>', 'run no earlier than this from now', durationArg());
  jsonOption(cmd, 'the job');
  storeOption(cmd);
  example(cmd, `vigil submit resize --input '{"path":"a.png"}' --tasks ./tasks.ts --wait`, 'vigil submit resize --input @job.json --key a.png', 'vigil submit resize --input @job.json --wait --wait-timeout 10m');
  cmd.action(async (task: string, opts: SubmitCliOptions) => {
    if (isManyInputs(opts.input)) return submitMany(task, opts);
    // Parse before opening anything: broken input must not create a store file or a job.
    const input = readInput(opts.input);
    process.exitCode = await withVigil(
      opts,
      async (vigil) => {
        const job = await vigil.submit(task, input, { key: opts.key, priority: opts.priority, delay: opts.delay });
        if (!opts.wait && opts.waitTimeout === undefined) {
          if (opts.json) printJob(job, true);
          else print(job.id);
          return 0;
        }
        // Says at once, and every 10 s, when no live worker serves the task: a wait must never be silent.
        const waiting = vigil.wait(job.id, { timeout: opts.waitTimeout, onNoWorker: (m) => stderrLine(`vigil: warning: ${m}`) });
        const final = await withProgressBar(vigil, job.id, opts.quiet ? waiting : streamLogs(vigil, job.id, waiting));
        printJob(final, opts.json);
        return jobExitCode(final.state);
      },
      opts.tasks,
    );
  });
}

/** `--input @jobs.ndjson`: every line checked, then one transaction; prints the ids, one per line. */
async function submitMany(task: string, opts: SubmitCliOptions): Promise<void> {
  if (opts.wait || opts.key !== undefined) {
    throw new UsageError('VIGIL_USAGE', '--wait and --key take one job: submit an NDJSON file without them (then `vigil wait <id>` or `vigil jobs`)');
  }
  const inputs = readManyInputs(opts.input!);
  process.exitCode = await withVigil(
    opts,
    async (vigil) => {
      const jobs = await vigil.submitMany(task, inputs, { priority: opts.priority, delay: opts.delay });
      if (opts.json) print(JSON.stringify(jobs.map((j) => j.id)));
      else for (const job of jobs) print(job.id);
      return 0;
    },
    opts.tasks,
  );
}
