import { parseProgressLine } from '../task/progress-line.js';
import { startedProcesses } from './roots.js';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { PythonStacks } from '../forensics/python-stack.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../errors.js';
import { serializeError } from '../task/serialize.js';
import { snapshotProcessesWithNotes } from '../forensics/proc-snapshot.js';
import type { HangReport, Json, ProcessSnapshot, SerializedError } from '../types.js';
import { settlesWithin } from './kill.js';
import { positiveInt } from './options.js';
import { ProgramStartError, startProgram, type Program, type ProgramExit } from './program.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, CommandSpec, Executor, RunningAttempt } from './types.js';

/**
 * Command tasks: one external program per attempt, in its own process group, its whole tree killed on abort/kill
 * (see program.ts and proctree.ts). The engine owns the clock: it calls abort() (SIGTERM to the tree) on timeout,
 * stall or cancel, then kill() after the task's grace. This executor reports output (`activity()` feeds `silence`),
 * enforces memoryMb on the tree's RSS, and turns the exit into an AttemptEnd.
 */

export interface CommandExecutorOptions {
  /** After kill(), how long to wait for the tree to be gone before `done` resolves anyway (default 1000 ms). */
  killBoundMs?: number;
  /** Tree sampling period for memoryMb (default 250 ms). */
  memorySampleMs?: number;
  /** Accepted for symmetry with other executors; the engine applies the task's grace itself. */
  graceMs?: number;
}

/** Stored when a `last-line` result is bigger than this: such results belong in $VIGIL_RESULT_FILE. */
const LAST_LINE_MAX = 1024 * 1024;
const RESULT_FILE_MAX = 16 * 1024 * 1024;
const STDERR_LINES_IN_MESSAGE = 10;

/** Enriches the basic tree snapshot of a hang report (the forensics module plugs in here). */
export type TreeSnapshotter = (pids: number[]) => { processes: ProcessSnapshot[]; notes: string[] };

export class CommandExecutor implements Executor {
  private readonly attempts = new Map<string, CommandAttempt>();
  private readonly killBoundMs: number;
  private readonly memorySampleMs: number;
  private closed = false;

  constructor(options: CommandExecutorOptions = {}) {
    this.killBoundMs = positiveInt('CommandExecutor', options.killBoundMs, 'killBoundMs', 1_000);
    this.memorySampleMs = positiveInt('CommandExecutor', options.memorySampleMs, 'memorySampleMs', 250);
  }

  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', 'the command executor is closed; start a new worker to run attempts');
    if (!spec.command) throw new VigilError('VIGIL_INTERNAL', `task "${spec.task}" is not a command task: it has no command spec (internal error)`);
    if (this.attempts.has(spec.key)) throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
    const attempt = new CommandAttempt(spec, spec.command, channel, this.killBoundMs, this.memorySampleMs);
    this.attempts.set(spec.key, attempt);
    void attempt.done.then(() => this.attempts.delete(spec.key));
    return attempt;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.attempts.values()].map(async (a) => {
      await a.kill();
      await a.done;
    }));
  }
}

class CommandAttempt implements RunningAttempt {
  readonly done: Promise<AttemptEnd>;
  private resolveDone!: (end: AttemptEnd) => void;
  private program: Program | null = null;
  private readonly starting: Promise<Program | null>;
  private aborted = false;
  private killRequested = false;
  private killing: Promise<void> | null = null;
  private ended = false;
  private resultDir: string | null = null;
  private python: PythonStacks | null = null;
  private capturing: Promise<unknown> | null = null;

  constructor(
    private readonly spec: AttemptSpec,
    private readonly command: CommandSpec,
    private readonly channel: AttemptChannel,
    private readonly killBoundMs: number,
    memorySampleMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const env: Record<string, string> = { ...command.env, VIGIL_JOB_ID: spec.jobId, VIGIL_ATTEMPT: String(spec.attempt) };
    if (command.pythonStacks !== false) {
      this.python = new PythonStacks();
      Object.assign(env, this.python.env(command.env ?? {}));
    }
    if (command.result === 'file') {
      this.resultDir = mkdtempSync(join(tmpdir(), 'vigil-result-'));
      env.VIGIL_RESULT_FILE = join(this.resultDir, 'result.json');
    }
    startedProcesses.beforeStart();
    this.starting = startProgram({
      argv: command.argv,
      cwd: command.cwd,
      env,
      stdin: command.stdin,
      memoryMb: spec.memoryMb,
      sampleMs: spec.memoryMb ? memorySampleMs : undefined,
      stdoutTailBytes: command.result === 'last-line' ? LAST_LINE_MAX + 1 : undefined,
      onLine: (stream, line, ts) => {
        // `::progress 0.4 decoding`: the documented progress line of command tasks (task/progress-line.ts).
        const progress = parseProgressLine(line);
        if (progress) channel.progress(progress);
        channel.log(stream, line, ts);
      },
      onActivity: () => channel.activity(),
      onSpawn: (pid) => startedProcesses.add(pid),
    }).then(
      (program) => {
        this.program = program;
        channel.processStarted(program.pid);
        if (this.killRequested) void program.kill();
        else if (this.aborted) program.terminate();
        void program.exited.then((exit) => this.onExit(program, exit));
        return program;
      },
      (err: unknown) => {
        this.finish({ type: 'threw', error: startFailure(err, command.argv) });
        return null;
      },
    );
  }

  abort(_reason: string): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    // SIGTERM kills a Python program at once, before it handles the SIGUSR2 that asked for its stack: while a capture
    // is asking, the terminate waits for it (it is bounded by the capture budget; the kill after grace is not).
    if (this.capturing) void this.capturing.finally(() => this.program?.terminate());
    else this.program?.terminate();
  }

  kill(): Promise<void> {
    if (this.killing) return this.killing;
    this.killRequested = true;
    this.killing = (async () => {
      const program = await this.starting;
      if (!program || this.ended) return;
      await program.kill();
      // A process stuck in uninterruptible I/O ignores even SIGKILL until the I/O returns: `done` must still end.
      await settlesWithin(this.done, this.killBoundMs);
      this.finish({ type: 'killed' });
    })();
    return this.killing;
  }

  async captureHang(budgetMs: number): Promise<HangReport['where']> {
    const started = Date.now();
    const program = this.program;
    if (!program) return { processes: [], notes: [this.ended ? 'the program had already exited' : 'the program was still starting'] };
    const pids = program.pids();
    if (pids.length === 0) return { processes: [], notes: ['the program had already exited'] };
    try {
      const where = snapshotTree(pids);
      if (this.python) {
        // The abort (SIGTERM) follows at once and may end the program: its stack files must outlive it.
        const python = this.python;
        const capturing = python.capture(pids, Math.max(0, budgetMs - (Date.now() - started)));
        this.capturing = capturing;
        const stacks = await capturing.finally(() => {
          this.capturing = null;
          if (this.ended) python.dispose();
        });
        for (const p of where.processes ?? []) {
          const stack = stacks.get(p.pid);
          if (stack) p.pythonStack = stack;
        }
      }
      if (Date.now() - started > budgetMs) where.notes.push(`the capture took ${Date.now() - started} ms, over its ${budgetMs} ms budget`);
      return where;
    } catch (err) {
      return { processes: basicSnapshot(program), notes: [`detailed capture failed: ${(err as Error).message}`] };
    }
  }

  pids(): number[] {
    if (!this.program || this.ended) return [];
    return this.program.pids();
  }

  private async onExit(program: Program, exit: ProgramExit): Promise<void> {
    this.channel.processEnded(program.pid);
    startedProcesses.remove(program.pid);
    this.finish(await this.endOf(exit));
  }

  private async endOf(exit: ProgramExit): Promise<AttemptEnd> {
    if (exit.oom) {
      return {
        type: 'oom',
        message: `the process tree of ${this.command.argv[0]} used ${Math.round(exit.oom.rssKb / 1024)} MiB of RSS, over memoryMb ${Math.round(exit.oom.limitKb / 1024)}; it was killed`,
      };
    }
    if (this.killRequested) return { type: 'killed' };
    if (exit.exitCode === 0) {
      try {
        return { type: 'returned', value: this.readResult(exit) };
      } catch (err) {
        return { type: 'threw', error: serializeError(err) };
      }
    }
    // Asked to stop and it did: how the attempt ended is the engine's call (timeout, stalled, cancelled).
    if (this.aborted) return { type: 'killed' };
    return { type: 'threw', error: exitError(this.command.argv, exit) };
  }

  private readResult(exit: ProgramExit): Json {
    switch (this.command.result) {
      case 'exit':
        return { exitCode: 0 };
      case 'last-line':
        return parseLastLine(exit, this.command.argv[0]!);
      case 'file':
        return readResultFile(join(this.resultDir!, 'result.json'), this.command.argv[0]!);
    }
  }

  private finish(end: AttemptEnd): void {
    if (this.ended) return;
    this.ended = true;
    if (this.resultDir) rmSync(this.resultDir, { recursive: true, force: true });
    if (!this.capturing) this.python?.dispose();
    this.resolveDone(end);
  }
}

/** Exit ≠ 0 or death by a signal: kind `error`, retryable, with the last lines of stderr in the message. */
export function exitError(argv: string[], exit: ProgramExit): SerializedError {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const lines = exit.stderr.lastLines(STDERR_LINES_IN_MESSAGE);
  const message = `${argv[0]} ${how}${lines.length ? `; last lines of stderr:\n${lines.join('\n')}` : ' (nothing on stderr)'}`;
  return {
    kind: 'error',
    name: 'CommandFailed',
    code: 'VIGIL_EXEC_FAILED',
    message,
    details: { exitCode: exit.exitCode, signal: exit.signal, argv: argv.slice(0, 20) },
  };
}

function startFailure(err: unknown, argv: string[]): SerializedError {
  const error = serializeError(err);
  if (err instanceof ProgramStartError) {
    error.retryable = false;
    error.details = { program: err.program, argv: argv.slice(0, 20) };
    delete error.stack;
  }
  return error;
}

function parseLastLine(exit: ProgramExit, program: string): Json {
  const tail = exit.stdout;
  const lines = tail.text().split(/\r\n|\r|\n/);
  let last: string | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.trim() !== '') {
      last = lines[i];
      if (i === 0 && tail.truncated) {
        throw new Error(`${program} exited 0 but its last stdout line is longer than ${LAST_LINE_MAX} bytes; write big results to the file in $VIGIL_RESULT_FILE (result: 'file')`);
      }
      break;
    }
  }
  if (last === undefined) throw new Error(`${program} exited 0 but printed nothing on stdout; result 'last-line' needs the result as JSON on its last line`);
  try {
    return JSON.parse(last) as Json;
  } catch (err) {
    throw new Error(`${program} exited 0 but its last stdout line is not JSON (${(err as Error).message}): ${last.length > 200 ? `${last.slice(0, 200)}…` : last}`, { cause: err });
  }
}

function readResultFile(path: string, program: string): Json {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new Error(`${program} exited 0 but did not write its result file; write the result as JSON to the path in $VIGIL_RESULT_FILE`, { cause: err });
  }
  if (size > RESULT_FILE_MAX) throw new Error(`${program} wrote a result file of ${size} bytes, over the ${RESULT_FILE_MAX}-byte limit; store big outputs elsewhere and return their location`);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new Error(`${program} exited 0 but its result file ($VIGIL_RESULT_FILE) is not JSON (${(err as Error).message})`, { cause: err });
  }
}

/** The tree for a hang report: /proc facts per process (wait channel, syscall, what it is blocked on). */
let snapshotter: TreeSnapshotter = snapshotProcessesWithNotes;

/** Replaces the tree snapshot used by hang reports (tests, other platforms). */
export function setTreeSnapshotter(fn: TreeSnapshotter): void {
  snapshotter = fn;
}

function snapshotTree(pids: number[]): HangReport['where'] {
  const { processes, notes } = snapshotter(pids);
  return { processes, notes: [...notes] };
}

function basicSnapshot(program: Program): ProcessSnapshot[] {
  return program.lastSample().map((s) => ({ pid: s.pid, ppid: s.ppid, pgid: s.pgid, command: s.comm, state: s.state, rssKb: s.rssKb }));
}
