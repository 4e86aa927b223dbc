import { NonRetryableError } from '../errors.js';
import { parseDuration } from '../task/duration.js';
import { longTimeout } from '../clock.js';
import type { ExecOptions, ExecResult } from '../task/define.js';
import { ProgramStartError, startProgram, type ProgramExit } from './program.js';

/**
 * `ctx.exec(argv, options)` for function tasks: the same machinery as command tasks (own process group, stdin
 * closed by default, bounded output, the whole tree killed), so a function task that starts programs never leaves
 * orphans. Runs inside the task's thread or process; `started`/`ended` tell the supervisor the program's pid, whose
 * process group it kills if the task's thread or process has to be killed itself.
 */

export interface ExecEnv {
  signal: AbortSignal;
  /** When the attempt must be over (epoch ms): the default timeout of a program. */
  endsAt: number;
  log(stream: 'stdout' | 'stderr', line: string, ts: number): void;
  started(pid: number): void;
  ended(pid: number): void;
}

/** After an abort or a timeout, how long the program gets to act on SIGTERM before SIGKILL. */
export const EXEC_GRACE_MS = 2_000;

/** A program run by ctx.exec failed: non-zero exit, death by a signal, timeout, or the attempt was aborted. */
export class ExecError extends Error {
  readonly code = 'VIGIL_EXEC_FAILED';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** The last 64 KiB of each stream. */
  readonly stdout: string;
  readonly stderr: string;
  readonly details: { argv: string[]; exitCode: number | null; signal: string | null; timedOut: boolean };

  constructor(message: string, argv: string[], result: ExecResult, timedOut: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecError';
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.timedOut = timedOut;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
    this.details = { argv: argv.slice(0, 20), exitCode: result.exitCode, signal: result.signal, timedOut };
  }
}

export async function contextExec(argv: string[], options: ExecOptions | undefined, env: ExecEnv): Promise<ExecResult> {
  const opts = options ?? {};
  if (env.signal.aborted) throw new ExecError(`${argv[0]} was not started: the attempt is already aborted`, argv, emptyResult(), false, { cause: env.signal.reason });
  const timeoutMs = opts.timeout !== undefined ? parseDuration(opts.timeout, 'exec timeout') : Math.max(0, env.endsAt - Date.now());
  let program;
  try {
    program = await startProgram({
      argv,
      cwd: opts.cwd,
      env: opts.env,
      stdin: opts.stdin ?? 'closed',
      onLine: (stream, line, ts) => (stream === 'system' ? env.log('stderr', line, ts) : env.log(stream, line, ts)),
    });
  } catch (err) {
    if (err instanceof ProgramStartError) throw new NonRetryableError(err.message, { cause: err });
    throw err;
  }
  const pid = program.pid;
  env.started(pid);
  let stopping: 'timeout' | 'aborted' | null = null;
  const stop = (why: 'timeout' | 'aborted') => {
    if (stopping || program.done) return;
    stopping = why;
    void program.stop(EXEC_GRACE_MS);
  };
  const onAbort = () => stop('aborted');
  env.signal.addEventListener('abort', onAbort, { once: true });
  const timer = longTimeout(timeoutMs, () => stop('timeout'));
  let exit: ProgramExit;
  try {
    exit = await program.exited;
  } finally {
    timer.cancel();
    env.signal.removeEventListener('abort', onAbort);
    env.ended(pid);
  }
  const result: ExecResult = {
    exitCode: exit.exitCode,
    signal: exit.signal,
    stdout: exit.stdout.text(),
    stderr: exit.stderr.text(),
  };
  if (stopping === 'timeout') {
    throw new ExecError(`${argv[0]} timed out after ${timeoutMs} ms; its process tree was killed${stderrLines(exit)}`, argv, result, true);
  }
  if (stopping === 'aborted') {
    throw new ExecError(`${argv[0]} was stopped: the attempt was aborted (${reasonOf(env.signal.reason)}); its process tree was killed`, argv, result, false, { cause: env.signal.reason });
  }
  if (opts.check !== false && (exit.exitCode !== 0 || exit.signal)) {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
    throw new ExecError(`${argv[0]} ${how}${stderrLines(exit)}`, argv, result, false);
  }
  return result;
}

function stderrLines(exit: ProgramExit): string {
  const lines = exit.stderr.lastLines(10);
  return lines.length ? `; last lines of stderr:\n${lines.join('\n')}` : '';
}

function reasonOf(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'no reason given';
}

function emptyResult(): ExecResult {
  return { exitCode: null, signal: null, stdout: '', stderr: '' };
}
