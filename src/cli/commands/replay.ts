import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { ProcessExecutor } from '../../executors/process-executor.js';
import type { Job } from '../../types.js';
import { Vigil } from '../../vigil.js';
import { example, intArg, openVigil, storeOption, type StoreOptions } from '../common.js';
import { jobExitCode } from '../exit.js';
import { printJson, print, formatJob } from '../output.js';
import { stderrLine } from '../progress.js';
import { logWorkerEvents } from '../worker-log.js';

interface ReplayOptions extends StoreOptions {
  tasks: string;
  attempt?: number;
  inspect?: string | boolean;
  json?: boolean;
}

/**
 * `vigil replay <id>`: runs a job's input again, here, under the same supervision and isolation, in a throwaway
 * store (the job's own store is only read: replaying never re-runs or changes production work). With --inspect the
 * attempt runs in a process started with --inspect-brk, paused on its first line until a debugger attaches, so a
 * hang can be reproduced under a debugger.
 */
export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay')
    .description("re-run a job's input locally (same task, same isolation, a throwaway store), optionally paused under the inspector")
    .argument('<id>', 'job id')
    .requiredOption('--tasks <module>', 'tasks module (.ts or .js) that defines the job\'s task')
    .option('--attempt <n>', 'the attempt to reproduce (default: the last); its outcome is shown next to the replay\'s', intArg(1))
    .option('--inspect [host:port]', 'open the inspector and pause at start (--inspect-brk; default 127.0.0.1:9229); thread tasks then run in a process')
    .option('--json', 'print { original, replay } as JSON');
  storeOption(cmd);
  example(cmd, 'vigil replay 42 --tasks ./tasks.ts', 'vigil replay 42 --tasks ./tasks.ts --attempt 2 --inspect');
  cmd.action(async (id: string, opts: ReplayOptions) => {
    const source = await openVigil(opts);
    let job: Job;
    let attemptNote: string;
    try {
      job = await source.get(id);
      const attempts = await source.attempts(id);
      const n = opts.attempt ?? attempts.at(-1)?.attempt;
      const attempt = attempts.find((a) => a.attempt === n);
      if (opts.attempt !== undefined && !attempt) {
        throw new UsageError('VIGIL_USAGE', `job ${id} has no attempt ${opts.attempt} (it has ${attempts.length}); pick one from vigil inspect ${id}`);
      }
      attemptNote = attempt ? `attempt ${attempt.attempt}: ${attempt.outcome ?? 'running'}${attempt.error ? ` (${attempt.error.message})` : ''}` : 'never attempted';
    } finally {
      await source.close();
    }
    const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'));
    const vigil = await Vigil.open({ store: `sqlite:${join(dir, 'replay.db')}`, tasks: opts.tasks });
    try {
      const inspect = opts.inspect === undefined ? null : typeof opts.inspect === 'string' ? opts.inspect : '127.0.0.1:9229';
      const executors = inspect ? (() => {
        const p = new ProcessExecutor({ execArgv: [`--inspect-brk=${inspect}`] });
        return { process: p, thread: p };
      })() : undefined;
      if (!opts.json) stderrLine(`vigil: replaying job ${id} (${job.task}; original ${attemptNote})${inspect ? `; attach a debugger to ${inspect} (chrome://inspect) — the task's timeout still runs` : ''}`);
      const replayed = await vigil.submit(job.task, job.input);
      const worker = await vigil.startWorker({ concurrency: 2, rootJobId: replayed.id, ...(executors ? { executors } : {}) });
      if (!opts.json) logWorkerEvents(worker, vigil);
      const stopLogs = opts.json ? () => undefined : followLogs(vigil, replayed.id);
      const final = await vigil.wait(replayed.id);
      stopLogs();
      await worker.stop({ drainMs: 2_000 });
      if (opts.json) printJson({ original: { job, attempt: attemptNote }, replay: final });
      else print(`original  ${attemptNote}\nreplay    ${final.state}${final.error ? ` (${final.error.kind}: ${final.error.message})` : ''}\n\n${formatJob(final)}`);
      process.exitCode = jobExitCode(final.state);
    } finally {
      await vigil.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** The replayed attempt's output on stderr as it comes (the inspector's "Debugger listening on …" line too). */
function followLogs(vigil: Vigil, id: string): () => void {
  let after = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void vigil
      .logs(id, { afterSeq: after })
      .then((lines) => {
        for (const l of lines) {
          after = l.seq;
          stderrLine(`  | ${l.stream}: ${l.line}`);
        }
      })
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 200);
  return () => clearInterval(timer);
}
