import { InvalidArgumentError, type Command } from 'commander';
import { formatDuration } from '../../task/duration.js';
import type { Job, JobState } from '../../types.js';
import { example, intArg, jsonOption, storeOption, withExistingStore, type StoreOptions } from '../common.js';
import { ago, formatError, print, printJson, table } from '../output.js';

const STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

interface JobsOptions extends StoreOptions {
  state?: JobState;
  task?: string;
  parent?: string;
  limit: number;
  json?: boolean;
}

export function registerJobs(program: Command): void {
  const cmd = program
    .command('jobs')
    .description('list jobs, newest first, with run time and error')
    .option('--state <state>', `only jobs in this state (${STATES.join(', ')})`, stateArg)
    .option('--task <name>', 'only jobs of this task')
    .option('--parent <id>', 'only the children of this job')
    .option('--limit <n>', 'at most this many jobs', intArg(1, 100_000), 50);
  jsonOption(cmd, 'an array of jobs');
  storeOption(cmd);
  example(cmd, 'vigil jobs --state failed --limit 20', 'vigil jobs --parent 42 --json');
  cmd.action(async (opts: JobsOptions) => {
    await withExistingStore(opts, async (vigil) => {
      const jobs = await vigil.list({ state: opts.state, task: opts.task, parentId: opts.parent, limit: opts.limit });
      if (opts.json) return printJson(jobs);
      if (jobs.length === 0) return print('no jobs');
      const now = Date.now();
      print(
        table(
          ['ID', 'TASK', 'STATE', 'ATTEMPTS', 'AGE', 'PARENT', 'TOOK', 'ERROR'],
          jobs.map((j) => [j.id, j.task, j.state, String(j.attempts), ago(j.createdAt, now), j.parentId ?? '-', took(j, now), j.error ? cut(formatError(j.error)) : '-']),
        ),
      );
    });
  });
}

/** Run time: finished jobs from start to end, running ones so far ("3s…"), queued ones none. */
function took(j: Job, now: number): string {
  if (j.startedAt === null) return '-';
  if (j.finishedAt !== null) return formatDuration(Math.max(0, j.finishedAt - j.startedAt));
  return j.state === 'running' ? `${formatDuration(Math.max(0, now - j.startedAt))}…` : '-';
}

function cut(text: string, max = 80): string {
  const line = text.split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function stateArg(value: string): JobState {
  if (!(STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${STATES.join(', ')}.`);
  return value as JobState;
}
