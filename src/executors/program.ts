import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { VigilError, type ErrorCode } from '../errors.js';
import type { StdinOption } from '../task/define.js';
import { ByteTail, LineSplitter, LogBudget, lineText, TRAILING_LINES, type LogBudgetOptions } from './line-splitter.js';
import { killNow, killTree, TreeTracker, type ProcStat } from './proctree.js';

/**
 * One external program under supervision — the machinery shared by command tasks and ctx.exec:
 * - its own process group and session (`detached`), so the whole group can be signalled;
 * - stdin closed by default (/dev/null: a program that asks a question reads end-of-file instead of waiting
 *   forever), or an empty pipe kept open, or a text written then closed;
 * - stdout/stderr consumed as fast as they come, split into lines with bounded memory, and logged within a budget;
 * - its process tree sampled from /proc (to kill descendants that left the group, and to enforce memoryMb);
 * - when the program exits, whatever it left running is killed, and its pipes are not waited on forever (a
 *   background descendant may hold them open).
 */

export type OutputStream = 'stdout' | 'stderr';

export interface ProgramSpec {
  argv: string[];
  cwd?: string;
  /** Added to the inherited environment (Vigil's own secrets are not passed on: programEnv). */
  env?: Record<string, string>;
  stdin: StdinOption;
  /** A line of output, decoded and made safe. `system` lines are Vigil's own notes (budget, leftovers). */
  onLine(stream: OutputStream | 'system', line: string, ts: number): void;
  /** Any output at all arrived (feeds `silence`). */
  onActivity?(): void;
  /**
   * Called the moment the program runs, before anything else is done for it: where a supervisor registers the
   * program with its guardian, since a SIGKILL that lands before that leaves the program running.
   */
  onSpawn?(pid: number): void;
  /** Bytes of each stream kept for error messages and results (default 64 KiB). */
  stdoutTailBytes?: number;
  stderrTailBytes?: number;
  /** Over this RSS (summed over the tree), the tree is SIGKILLed and the exit reports `oom`. */
  memoryMb?: number | null;
  /** Tree sampling period; the first samples come sooner (default 500 ms, 250 ms with memoryMb). */
  sampleMs?: number;
  logBudget?: LogBudgetOptions;
}

export interface ProgramExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the tree went over memoryMb and was killed for it. */
  oom: { rssKb: number; limitKb: number } | null;
  stdout: ByteTail;
  stderr: ByteTail;
  durationMs: number;
}

/** A program that could not be started: fix the task, not the weather, so never retried. */
export class ProgramStartError extends VigilError {
  readonly retryable = false as const;
  constructor(code: ErrorCode, message: string, readonly program: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'ProgramStartError';
  }
}

/** After the program exits, how long its pipes may still deliver output before they are destroyed. */
const DRAIN_MS = 500;
/** Leftovers of a program that exited get this long to act on SIGTERM. */
const LEFTOVER_GRACE_MS = 500;
/** No output for this long: an unfinished line (a prompt waiting for input) is logged as it is. */
const PARTIAL_FLUSH_MS = 1_000;
const DEFAULT_TAIL = 64 * 1024;

export async function startProgram(spec: ProgramSpec): Promise<Program> {
  const { argv } = spec;
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
    throw new ProgramStartError('VIGIL_INVALID_TASK_OPTION', `a command must be a non-empty array of strings (got ${safeJson(argv)}); to use a shell, say so: ['sh', '-c', script]`, String(argv?.[0] ?? ''));
  }
  if (argv[0] === '') throw new ProgramStartError('VIGIL_EXEC_NOT_FOUND', 'program not found: the command\'s first element is an empty string', '');
  if (argv.some((a) => a.includes('\0'))) {
    throw new ProgramStartError('VIGIL_INVALID_TASK_OPTION', `an argument of ${argv[0]} contains a NUL byte, which no program can receive`, argv[0]!);
  }
  if (spec.cwd !== undefined) checkCwd(spec.cwd, argv[0]!);
  const env = programEnv(process.env, spec.env);
  const stdinMode = spec.stdin === 'closed' ? 'ignore' : 'pipe';
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { cwd: spec.cwd, env, stdio: [stdinMode, 'pipe', 'pipe'], detached: true, windowsHide: true });
  } catch (err) {
    throw startError(argv[0]!, spec.cwd, env, err);
  }
  if (child.pid === undefined) {
    // libuv reports exec failures synchronously; node emits the 'error' event on the next tick.
    const err = await new Promise<unknown>((resolve) => child.once('error', resolve));
    throw startError(argv[0]!, spec.cwd, env, err);
  }
  spec.onSpawn?.(child.pid);
  return new Program(child, spec);
}

/**
 * The environment of a program: the worker's, without Vigil's own secrets — the API token, the store password
 * (PGPASSWORD, and VIGIL_STORE when its URL carries one) — which a task's program has no business reading (a
 * third-party tool, a script that dumps its environment into a log). A task that needs them passes them in `env`.
 */
export function programEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.VIGIL_TOKEN;
  delete env.PGPASSWORD;
  if (env.VIGIL_STORE !== undefined && hasPassword(env.VIGIL_STORE)) delete env.VIGIL_STORE;
  return { ...env, ...extra };
}

function hasPassword(url: string): boolean {
  try {
    const u = new URL(url);
    return u.password !== '' || u.searchParams.has('password');
  } catch {
    return /:\/\/[^/@]*:[^/@]*@|[?&]password=/i.test(url);
  }
}

export class Program {
  readonly pid: number;
  readonly tracker: TreeTracker;
  readonly exited: Promise<ProgramExit>;
  private readonly startedAt = Date.now();
  private readonly stdoutTail: ByteTail;
  private readonly stderrTail: ByteTail;
  private readonly budget: LogBudget;
  private unwatch: (() => void) | null = null;
  private sampleCount = 0;
  private lastOutputAt = Date.now();
  private oom: ProgramExit['oom'] = null;
  private hasExited = false;
  private readonly splitters: Record<OutputStream, LineSplitter>;

  constructor(private readonly child: ChildProcess, private readonly spec: ProgramSpec) {
    this.pid = child.pid!;
    // A ChildProcess 'error' without a listener would crash the worker; the exit is what ends the attempt.
    child.on('error', () => undefined);
    this.tracker = new TreeTracker(this.pid);
    this.stdoutTail = new ByteTail(spec.stdoutTailBytes ?? DEFAULT_TAIL);
    this.stderrTail = new ByteTail(spec.stderrTailBytes ?? DEFAULT_TAIL);
    this.budget = new LogBudget(spec.logBudget);
    this.splitters = { stdout: this.splitter('stdout'), stderr: this.splitter('stderr') };
    this.feedStdin();
    const stdoutDone = this.consume(child.stdout!, 'stdout', this.stdoutTail);
    const stderrDone = this.consume(child.stderr!, 'stderr', this.stderrTail);
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    this.exited = this.afterExit(exit, Promise.all([stdoutDone, stderrDone]));
    this.scheduleSample();
  }

  /** SIGTERM (and SIGCONT) to the whole tree: the program's chance to clean up. */
  terminate(): void {
    this.tracker.killAll('SIGTERM');
    this.tracker.killAll('SIGCONT');
  }

  /** SIGKILL to the whole tree until none of it is left (bounded ~1 s). True when it is gone. */
  kill(): Promise<boolean> {
    return killNow(this.tracker);
  }

  /** SIGTERM, up to graceMs, SIGKILL. */
  stop(graceMs: number): Promise<void> {
    return killTree(this.tracker, graceMs);
  }

  get done(): boolean {
    return this.hasExited;
  }

  pids(): number[] {
    return this.tracker.sample();
  }

  /** The tree as last sampled by pids()/the sampler. */
  lastSample(): ProcStat[] {
    return this.tracker.lastSample();
  }

  private splitter(stream: OutputStream): LineSplitter {
    return new LineSplitter((bytes, cut) => {
      if (this.budget.admit(stream, bytes.length, bytes.length + cut)) this.emit(stream, lineText(bytes, cut));
    });
  }

  private emit(stream: OutputStream | 'system', line: string): void {
    const note = this.budget.takeSkipNote();
    const ts = Date.now();
    if (note) this.spec.onLine('system', note, ts);
    this.spec.onLine(stream, line, ts);
  }

  private feedStdin(): void {
    const stdin = this.child.stdin;
    if (!stdin) return;
    // EPIPE when the program exits without reading its input: not an error of the attempt.
    stdin.on('error', () => undefined);
    const mode = this.spec.stdin;
    if (typeof mode === 'object') stdin.end(mode.text);
    // 'open': the pipe stays open and empty until the program exits (then it is destroyed in afterExit).
  }

  private consume(stream: Readable, name: OutputStream, tail: ByteTail): Promise<void> {
    const splitter = this.splitters[name];
    return new Promise<void>((resolve) => {
      // No pause, no queue: each chunk is split and forgotten at once, so neither memory nor the program waits.
      stream.on('data', (chunk: Buffer) => {
        this.lastOutputAt = Date.now();
        tail.write(chunk);
        splitter.write(chunk);
        this.spec.onActivity?.();
      });
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
  }

  private scheduleSample(): void {
    // Sample early and often at first: a short-lived parent of a setsid() daemon is only caught while it lives.
    // The samples come from the /proc scan shared by every program and attempt of this process (proc-scan.ts).
    const period = this.spec.sampleMs ?? (this.spec.memoryMb ? 250 : 500);
    const early = [50, 100, 200];
    const wait = (): number => Math.min(early[this.sampleCount] ?? period, period);
    this.unwatch = this.tracker.watch(wait(), (tree) => {
      this.sampleCount++;
      this.tick(tree);
      return this.hasExited || this.oom ? null : wait();
    });
  }

  private tick(tree: ProcStat[]): void {
    if (this.hasExited) return;
    const limitMb = this.spec.memoryMb;
    if (limitMb) {
      let rssKb = 0;
      for (const stat of tree) rssKb += stat.rssKb ?? 0;
      if (rssKb > limitMb * 1024) {
        this.oom = { rssKb, limitKb: limitMb * 1024 };
        void this.kill();
        return;
      }
    }
    if (Date.now() - this.lastOutputAt >= PARTIAL_FLUSH_MS) {
      for (const splitter of Object.values(this.splitters)) if (splitter.hasPartial) splitter.flush();
    }
  }

  private async afterExit(exit: Promise<[number | null, NodeJS.Signals | null]>, streams: Promise<unknown>): Promise<ProgramExit> {
    const [exitCode, signal] = await exit;
    this.hasExited = true;
    this.unwatch?.();
    this.child.stdin?.destroy();
    // Whatever the program left running (background jobs in its group, daemons that left it) dies with it.
    const left = this.tracker.sample();
    if (left.length > 0) {
      const stats = this.tracker.lastSample();
      await killTree(this.tracker, LEFTOVER_GRACE_MS);
      if (!this.oom) {
        this.spec.onLine('system', `[vigil] the program exited leaving ${left.length} ${left.length === 1 ? 'process' : 'processes'} running, now killed: ${stats.map((s) => `${s.pid} (${s.comm})`).join(', ')}`, Date.now());
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streams, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.splitters.stdout.end();
    this.splitters.stderr.end();
    const summary = this.budget.summary();
    if (summary) {
      const ts = Date.now();
      this.spec.onLine('system', summary.note, ts);
      for (const stream of ['stdout', 'stderr'] as const) {
        const n = summary.trailing[stream];
        if (n === 0) continue;
        const tail = stream === 'stdout' ? this.stdoutTail : this.stderrTail;
        for (const line of tail.lastLines(Math.min(n, TRAILING_LINES), 8192)) this.spec.onLine(stream, line, ts);
      }
    }
    return { exitCode, signal, oom: this.oom, stdout: this.stdoutTail, stderr: this.stderrTail, durationMs: Date.now() - this.startedAt };
  }
}

function checkCwd(cwd: string, program: string): void {
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch (err) {
    throw new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `working directory not found: ${cwd} (cwd of ${program}); create it or fix the task's cwd`, program, err);
  }
  if (!isDir) throw new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `working directory is not a directory: ${cwd} (cwd of ${program})`, program);
}

/** A clear, non-retryable error for a program that could not be executed. */
function startError(program: string, cwd: string | undefined, env: NodeJS.ProcessEnv, err: unknown): ProgramStartError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const hasSlash = program.includes('/');
  const path = hasSlash ? (isAbsolute(program) ? program : resolve(cwd ?? process.cwd(), program)) : findInPath(program, env.PATH);
  if (code === 'ENOENT') {
    if (path && exists(path)) {
      return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `program not found: ${path} exists, but the interpreter named on its #! line does not; install it or fix the #! line`, program, err);
    }
    if (hasSlash) return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `program not found: ${program}${path !== program ? ` (${path})` : ''}; check the path`, program, err);
    return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `program not found: "${program}" is not in PATH (${env.PATH ?? 'PATH is not set'}); install it, check PATH, or give its full path`, program, err);
  }
  if (code === 'EACCES' || code === 'EISDIR' || code === 'ENOEXEC') {
    const where = path ?? program;
    const what = isDirectory(where) ? 'it is a directory' : code === 'ENOEXEC' ? 'not a binary and no #! line' : 'permission denied';
    return new ProgramStartError('VIGIL_EXEC_NOT_EXECUTABLE', `not executable: ${where} (${what}); chmod +x it, or run it through its interpreter, e.g. ['python3', '${where}']`, program, err);
  }
  return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `could not start ${program}: ${(err as Error | undefined)?.message ?? String(err)}`, program, err);
}

function findInPath(program: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    if (exists(candidate)) return candidate;
  }
  return null;
}

function exists(path: string): boolean {
  try {
    accessSync(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
