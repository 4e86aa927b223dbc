import type { Command } from 'commander';
import type { Worker } from '../../engine/worker.js';
import type { Job } from '../../types.js';
import type { Vigil } from '../../vigil.js';
import { example, intArg, onSignals, openVigil, sleep, storeOption, type StoreOptions } from '../common.js';
import { EXIT, jobExitCode } from '../exit.js';
import { readInput } from '../input.js';
import { printJob } from '../output.js';
import { stderrLine, withProgressBar } from '../progress.js';
import { logWorkerEvents } from '../worker-log.js';
import { streamLogs } from '../follow.js';

interface RunOptions extends StoreOptions {
  tasks: string;
  input?: string;
  concurrency: number;
  json?: boolean;
  quiet?: boolean;
}

/** After the job ended (or was cancelled), how long its stragglers (children) get before being killed. */
const STOP_DRAIN_MS = 2_000;

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('one-shot: submit a job, run it in this process, print the final job')
    .argument('<task>', 'task name')
    .requiredOption('--tasks <module>', 'tasks module (.ts or .js) that defines the task')
    .option('--input <json|@file>', 'job input: inline JSON, @path of a JSON file, or @- for stdin (default: null)')
    .option('--concurrency <n>', 'attempts running at once (the job and its children)', intArg(1, 10_000), 2)
    .option('--json', 'print the final job as JSON')
    .option('--quiet', 'do not log attempt events or stream the job\'s output to stderr');
  storeOption(cmd);
  example(cmd, `vigil run resize --tasks ./tasks.ts --input '{"path":"a.png"}' --json`);
  cmd.action(async (task: string, opts: RunOptions) => {
    const input = readInput(opts.input);
    const vigil = await openVigil(opts, opts.tasks);
    try {
      process.exitCode = await runOnce(vigil, task, input, opts);
    } finally {
      await vigil.close();
    }
  });
}

async function runOnce(vigil: Vigil, task: string, input: ReturnType<typeof readInput>, opts: RunOptions): Promise<number> {
  const job = await vigil.submit(task, input);
  // rootJobId: this worker runs this job tree only, never other work queued in the same store.
  const worker = await vigil.startWorker({ concurrency: opts.concurrency, rootJobId: job.id });
  if (!opts.quiet) logWorkerEvents(worker, vigil);
  const interrupted = new AbortController();
  const forceRequested = new AbortController();
  let forced: Promise<void> | null = null;
  const off = onSignals(['SIGINT', 'SIGTERM'], (signal, count) => {
    if (count === 1) {
      stderrLine(`vigil: ${signal}: cancelling job ${job.id} (send it again to force)`);
      interrupted.abort();
    } else {
      off();
      forced = worker.forceStop();
      forceRequested.abort();
    }
  });
  try {
    const waiting = waitOrInterrupt(vigil, job.id, interrupted.signal);
    const final = await withProgressBar(vigil, job.id, opts.quiet ? waiting : streamLogs(vigil, job.id, waiting));
    if (final) {
      await stopWorker(worker);
      printJob(final, opts.json);
      return jobExitCode(final.state);
    }
    await vigil.cancel(job.id, 'interrupted (vigil run received a signal)').catch(() => undefined);
    // Let the cancelled attempt be recorded (abort → grace → kill) so the store says "cancelled", not "running".
    const ended = await Promise.race([
      vigil.wait(job.id, { signal: forceRequested.signal }).catch(() => null),
      sleep(STOP_DRAIN_MS + 4_000, { unref: true }).then(() => null),
    ]);
    await (forced ?? stopWorker(worker));
    const after = ended ?? (await vigil.get(job.id).catch(() => null));
    if (after) printJob(after, opts.json);
    return EXIT.interrupted;
  } finally {
    off();
  }
}

function waitOrInterrupt(vigil: Vigil, id: string, signal: AbortSignal): Promise<Job | null> {
  return vigil.wait(id, { signal, onNoWorker: (m) => stderrLine(`vigil: warning: ${m}`) }).catch((err: unknown) => {
    if (signal.aborted) return null;
    throw err;
  });
}

/** Graceful first; if something still hangs past the bound, force: `vigil run` must always exit promptly. */
async function stopWorker(worker: Worker): Promise<void> {
  const stopped = await Promise.race([worker.stop({ drainMs: STOP_DRAIN_MS }).then(() => true), sleep(STOP_DRAIN_MS + 3_000, { unref: true }).then(() => false)]);
  if (!stopped) await worker.forceStop();
}
