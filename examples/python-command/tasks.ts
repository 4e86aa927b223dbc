/**
 * Vigil supervising an existing Python script as a command task: no change to the script, no shell.
 *
 *   vigil run python.loudness --tasks examples/python-command/tasks.ts --input '{"tone": 5}'
 *   vigil run python.loudness --tasks examples/python-command/tasks.ts --input '{"path": "/abs/path/track.wav"}'
 *
 * In your project: import { defineTask } from 'vigil';
 */
import { fileURLToPath } from 'node:url';
import { defineTask } from '../../src/index.js';

const script = fileURLToPath(new URL('./loudness.py', import.meta.url));

export const loudness = defineTask<{ path?: string; tone?: number }>({
  name: 'python.loudness',
  // An argument vector: the path is one argument, whatever characters it holds. `-u`: unbuffered output, so the
  // progress lines reach the log (and `silence`) as they are printed.
  command: (input) => ['python3', '-u', script, ...(input.path ? [input.path] : ['--tone', String(input.tone ?? 5)])],
  // The script prints JSON on its last line: that is the job's result.
  result: 'last-line',
  // Whole run bound; and no output for 10 s means it is stuck (`stalled`): both kill the whole process tree.
  timeout: '2m',
  silence: '10s',
  grace: '2s',
  // stdin defaults to 'closed': if the script ever asks a question, it reads end-of-file instead of hanging.
  retries: 1,
});
