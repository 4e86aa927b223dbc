import { startedProcesses } from './roots.js';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../errors.js';
import { captureProcessStack } from '../forensics/process-stack.js';
import type { HangReport } from '../types.js';
import { AttemptBase, Lifecycle, type ToRunner } from './attempt-base.js';
import type { RunnerInbound, RunnerOutbound } from './ipc.js';
import { killGroup, settlesWithin } from './kill.js';
import { LineSplitter, textLines } from './line-splitter.js';
import { hostEvents } from './events.js';
import { entryPath, forkExecArgv } from './node-entry.js';
import { positiveInt } from './options.js';
import { TreeTracker, type ProcStat } from './proctree.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, Executor, RunningAttempt } from './types.js';

/**
 * Isolation 'process': one Node process per attempt, leading its own process group. Ending it never needs the
 * task's cooperation: SIGKILL to the group and to every descendant seen (DESIGN G1). Memory is enforced on the
 * RSS of the whole tree.
 */

export interface ProcessExecutorOptions {
  /** After kill(), how long to wait for the process's exit before the attempt is reported killed anyway (default 500 ms). */
  killBoundMs?: number;
  /** How often the tree's RSS is sampled when memoryMb is set (default 250 ms). */
  memorySampleMs?: number;
  /** Extra Node flags for attempt processes (`vigil replay --inspect` adds --inspect-brk). */
  execArgv?: string[];
}

/**
 * execArgv of an attempt process: the one place its Node flags are built (forensics may add report flags here).
 */
export function attemptExecArgv(): string[] {
  return forkExecArgv();
}

/**
 * Where attempt processes serve their inspector relay (one unix socket each): a directory only this user can enter,
 * because the relay runs any inspector command in the task's process. Made on first use, removed on process exit.
 */
let socketDir: string | null = null;
let socketCount = 0;
function inspectorSocketPath(): string | null {
  try {
    if (socketDir === null) {
      socketDir = mkdtempSync(join(tmpdir(), 'vigil-insp-'));
      const dir = socketDir;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    // Short names: a unix socket path must fit in 107 bytes.
    return join(socketDir, `${++socketCount}.sock`);
  } catch {
    return null;
  }
}

/** How long after the process exits its stdout/stderr may still deliver buffered output. */
const OUTPUT_DRAIN_MS = 200;
/** Without a memory limit, descendants are still sampled (to kill those that leave the group), less often. */
const TREE_SAMPLE_MS = 1_000;

export class ProcessExecutor implements Executor {
  private readonly killBoundMs: number;
  private readonly memorySampleMs: number;
  private readonly execArgv: string[];
  private readonly attempts = new Map<string, ProcessAttempt>();
  private closed = false;

  constructor(options: ProcessExecutorOptions = {}) {
    this.killBoundMs = positiveInt('ProcessExecutor', options.killBoundMs, 'killBoundMs', 500);
    this.memorySampleMs = positiveInt('ProcessExecutor', options.memorySampleMs, 'memorySampleMs', 250);
    this.execArgv = options.execArgv ?? [];
  }

  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', 'the process executor is closed; start a new worker to run attempts');
    if (this.attempts.has(spec.key)) throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
    const attempt = new ProcessAttempt(spec, channel, this.killBoundMs, this.memorySampleMs, this.execArgv);
    this.attempts.set(spec.key, attempt);
    void attempt.done.then(() => this.attempts.delete(spec.key));
    return attempt;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.attempts.values()].map((attempt) => attempt.kill()));
  }
}

/**
 * The life of one attempt process. What the attempt ends as is decided by the first of: the runner's own report,
 * the memory limit, kill(); a process that exits with none of these died. The process exiting moves any state to
 * `draining` (its output pipes get OUTPUT_DRAIN_MS), which keeps the verdict of the state it left.
 */
type Alive =
  /** The process runs and nothing is decided yet. */
  | { name: 'running' }
  /** The runner reported how the task ended; the process is exiting by itself. */
  | { name: 'reported'; end: AttemptEnd }
  /** The tree went over memoryMb and was SIGKILLed. */
  | { name: 'over-memory'; message: string }
  /** kill() was called: the tree was SIGKILLed; `done` follows within killBoundMs at the latest. */
  | { name: 'killing' };
type ProcessState =
  | Alive
  /** The process exited; its last output is read before the attempt ends. */
  | { name: 'draining'; was: Alive; code: number | null; signal: NodeJS.Signals | null }
  | { name: 'ended' };

const PROCESS_NEXT = {
  running: ['reported', 'over-memory', 'killing', 'draining', 'ended'],
  reported: ['draining', 'ended'],
  // The report of a task that ended as the limit was hit stands (it is the truth about the task).
  'over-memory': ['reported', 'draining', 'ended'],
  killing: ['reported', 'draining', 'ended'],
  // A report (or a kill) that arrives after the exit event still decides the verdict while the output drains.
  draining: ['draining', 'ended'],
  ended: [],
} as const satisfies { [K in ProcessState['name']]: ReadonlyArray<ProcessState['name']> };

class ProcessAttempt extends AttemptBase {
  private readonly life = new Lifecycle<ProcessState>(PROCESS_NEXT, { name: 'running' });
  private readonly child: ChildProcess;
  private readonly pid: number;
  private readonly tracker: TreeTracker | null;
  private unwatch: (() => void) | null = null;
  private killing: Promise<void> | null = null;
  private readonly outputClosed: Promise<unknown>;
  private readonly inspectorSocket: string | null = inspectorSocketPath();

  constructor(
    spec: AttemptSpec,
    channel: AttemptChannel,
    private readonly killBoundMs: number,
    memorySampleMs: number,
    extraExecArgv: string[] = [],
  ) {
    super(spec, channel);
    startedProcesses.beforeStart();
    this.child = fork(entryPath('process-entry'), this.inspectorSocket ? [this.inspectorSocket] : [], {
      execArgv: [...attemptExecArgv(), ...extraExecArgv],
      detached: true,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.pid = this.child.pid ?? -1;
    hostEvents.publish({ event: 'forked', executor: 'process', pid: this.pid });
    const closes: Array<Promise<void>> = [];
    for (const [name, stream] of [['stdout', this.child.stdout], ['stderr', this.child.stderr]] as const) {
      if (!stream) continue;
      const lines = new LineSplitter(textLines((line) => this.output(name, line)));
      stream.on('data', (chunk: Buffer) => lines.write(chunk));
      closes.push(new Promise((resolve) => stream.once('close', () => { lines.end(); resolve(); })));
    }
    this.outputClosed = Promise.all(closes);
    this.child.on('message', (message: RunnerOutbound) => this.onMessage(message));
    this.child.on('exit', (code, signal) => void this.onExit(code, signal));
    this.child.on('error', (err) => {
      if (this.child.pid === undefined) this.finish({ type: 'died', collateral: false, message: `could not start the attempt process: ${err.message}` });
    });
    this.send({ type: 'run', spec });
    this.tracker = this.pid > 0 ? new TreeTracker(this.pid) : null;
    // Sampling is also how the tracker learns of descendants that leave the group, so it runs without a limit too.
    const period = spec.memoryMb ? memorySampleMs : TREE_SAMPLE_MS;
    this.unwatch = this.tracker?.watch(period, (tree) => this.sample(tree) ? period : null) ?? null;
  }

  protected get over(): boolean {
    return this.life.is('ended');
  }

  protected post(message: ToRunner): void {
    this.send(message);
  }

  kill(): Promise<void> {
    if (this.over) return Promise.resolve();
    this.killing ??= (async () => {
      hostEvents.publish({ event: 'killed', executor: 'process', pid: this.pid });
      const state = this.life.state;
      if (state.name === 'running') this.life.to({ name: 'killing' });
      else if (state.name === 'draining' && state.was.name === 'running') this.life.to({ ...state, was: { name: 'killing' } });
      this.killTree();
      if (await settlesWithin(this.done, this.killBoundMs)) return;
      // The exit was not reported in time (a process in uninterruptible sleep): it is SIGKILLed, report it so.
      this.finish(this.verdict(null, 'SIGKILL'));
    })();
    return this.killing;
  }

  captureHang(budgetMs: number): Promise<HangReport['where']> {
    if (!this.life.is('running', 'reported', 'over-memory', 'killing')) return Promise.resolve({ notes: ['the attempt had already ended when its hang was captured'] });
    const options = this.inspectorSocket ? { inspectorSocket: this.inspectorSocket } : { report: false };
    return this.captureWithin(budgetMs, () => captureProcessStack(this.pid, Math.max(0, budgetMs - 20), options));
  }

  pids(): number[] {
    if (!this.life.is('running', 'reported', 'over-memory', 'killing')) return [...this.execPids];
    const tree = this.tracker ? this.tracker.sample() : this.pid > 0 ? [this.pid] : [];
    return [...new Set([...tree, ...this.execPids])];
  }

  private send(message: RunnerInbound): void {
    if (this.life.is('draining', 'ended') || !this.child.connected) return;
    try {
      this.child.send(message);
    } catch {
      // The process is going away: its exit ends the attempt.
    }
  }

  private output(stream: 'stdout' | 'stderr', line: string): void {
    if (this.over) return;
    this.channel.log(stream, line, Date.now());
    this.channel.activity();
  }

  private onMessage(message: RunnerOutbound): void {
    if (message.type === 'diagnosis' || message.key !== this.spec.key) return;
    if (message.type !== 'end') return this.relayed(message);
    const state = this.life.state;
    const reported = { name: 'reported', end: message.end } as const;
    if (state.name === 'draining') {
      if (state.was.name !== 'reported') this.life.to({ ...state, was: reported });
    } else {
      this.life.to(reported);
    }
  }

  /** One tick of the shared /proc scan; false once the attempt no longer needs them. */
  private sample(tree: ProcStat[]): boolean {
    if (!this.life.is('running', 'reported', 'over-memory', 'killing')) return false;
    if (!this.spec.memoryMb || !this.life.is('running')) return true;
    let rssKb = 0;
    for (const stat of tree) rssKb += stat.rssKb ?? 0;
    if (rssKb > this.spec.memoryMb * 1024) {
      this.life.to({ name: 'over-memory', message: `the task's process tree used ${Math.round(rssKb / 1024)} MB, over its memory limit (memoryMb: ${this.spec.memoryMb}), and was killed` });
      this.killTree();
    }
    return true;
  }

  /** SIGKILL to the group, every descendant the tracker saw (some leave the group) and every ctx.exec program. */
  private killTree(): void {
    if (this.pid > 0) {
      this.tracker?.killAll('SIGKILL');
      killGroup(this.pid);
    }
    for (const pid of this.execPids) killGroup(pid);
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const was = this.life.state;
    if (was.name === 'draining' || was.name === 'ended') return;
    this.life.to({ name: 'draining', was, code, signal });
    this.unwatch?.();
    // The helper may have made its socket after finish() (a fast attempt): once the process is gone, nobody will.
    if (this.inspectorSocket) rmSync(this.inspectorSocket, { force: true });
    // Whatever the attempt left behind (background programs in its group) dies with it.
    this.killTree();
    startedProcesses.remove(this.pid);
    await settlesWithin(this.outputClosed, OUTPUT_DRAIN_MS);
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.finish(this.verdict(code, signal));
  }

  /** How the attempt ended, from the state it is in (the exit status only matters when nothing else decided it). */
  private verdict(code: number | null, signal: NodeJS.Signals | null): AttemptEnd {
    const state = this.life.state;
    const alive = state.name === 'draining' ? state.was : state.name === 'ended' ? null : state;
    switch (alive?.name) {
      case 'reported':
        return alive.end;
      case 'over-memory':
        return { type: 'oom', message: alive.message };
      case 'killing':
        return { type: 'killed' };
      default:
        return {
          type: 'died',
          collateral: false,
          message: `the attempt process (pid ${this.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before the task finished`,
        };
    }
  }

  private finish(end: AttemptEnd): void {
    if (!this.life.to({ name: 'ended' })) return;
    if (this.inspectorSocket) rmSync(this.inspectorSocket, { force: true });
    this.unwatch?.();
    for (const pid of this.execPids) killGroup(pid);
    this.resolve(end);
  }
}
