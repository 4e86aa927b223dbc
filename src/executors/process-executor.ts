import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../errors.js';
import type { HangReport } from '../types.js';
import { LineSplitter, type RunnerInbound, type RunnerOutbound } from './ipc.js';
import { entryPath, forkExecArgv } from './node-entry.js';
import { ABORT_HOLD_MS, hostEvents, killGroup, settlesWithin, toSerialized } from './thread-executor.js';
import { relay } from './relay.js';
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
}

interface Tracker {
  sample(): number[];
  rssKb(): number;
  killAll(signal: NodeJS.Signals): void;
}
type TrackerModule = { TreeTracker: new (rootPid: number) => Tracker };

// Written alongside this module by the command-task side; until it is there, the process group is what we kill.
const PROCTREE_MODULE = './proctree.js';
let trackerModule: TrackerModule | null = null;
const trackerLoading: Promise<void> = import(PROCTREE_MODULE).then(
  (mod: TrackerModule) => {
    trackerModule = mod;
  },
  () => undefined,
);

const PROCESS_STACK_MODULE = '../forensics/process-stack.js';

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
  private readonly attempts = new Map<string, ProcessAttempt>();
  private closed = false;

  constructor(options: ProcessExecutorOptions = {}) {
    this.killBoundMs = positiveInt(options.killBoundMs, 'killBoundMs', 500);
    this.memorySampleMs = positiveInt(options.memorySampleMs, 'memorySampleMs', 250);
  }

  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', 'the process executor is closed; start a new worker to run attempts');
    if (this.attempts.has(spec.key)) throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
    const attempt = new ProcessAttempt(spec, channel, this.killBoundMs, this.memorySampleMs);
    this.attempts.set(spec.key, attempt);
    void attempt.done.then(() => this.attempts.delete(spec.key));
    return attempt;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.attempts.values()].map((attempt) => attempt.kill()));
  }
}

class ProcessAttempt implements RunningAttempt {
  readonly done: Promise<AttemptEnd>;
  private resolveDone!: (end: AttemptEnd) => void;
  private readonly child: ChildProcess;
  private readonly pid: number;
  private tracker: Tracker | null = null;
  private readonly execPids = new Set<number>();
  private reported: AttemptEnd | null = null;
  private oomMessage: string | null = null;
  private killRequested = false;
  private exited = false;
  private ended = false;
  private killing: Promise<void> | null = null;
  private sampler: ReturnType<typeof setInterval> | null = null;
  private readonly outputClosed: Promise<unknown>;
  private readonly inspectorSocket: string | null = inspectorSocketPath();
  private capturing: Promise<unknown> | null = null;

  constructor(
    readonly spec: AttemptSpec,
    private readonly channel: AttemptChannel,
    private readonly killBoundMs: number,
    memorySampleMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.child = fork(entryPath('process-entry'), this.inspectorSocket ? [this.inspectorSocket] : [], {
      execArgv: attemptExecArgv(),
      detached: true,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.pid = this.child.pid ?? -1;
    hostEvents.publish({ event: 'forked', executor: 'process', pid: this.pid });
    const closes: Array<Promise<void>> = [];
    for (const [name, stream] of [['stdout', this.child.stdout], ['stderr', this.child.stderr]] as const) {
      if (!stream) continue;
      const lines = new LineSplitter((line) => this.output(name, line));
      stream.on('data', (chunk: Buffer) => lines.write(chunk));
      closes.push(new Promise((resolve) => stream.once('close', () => { lines.flush(); resolve(); })));
    }
    this.outputClosed = Promise.all(closes);
    this.child.on('message', (message: RunnerOutbound) => this.onMessage(message));
    this.child.on('exit', (code, signal) => void this.onExit(code, signal));
    this.child.on('error', (err) => {
      if (this.child.pid === undefined) this.finish({ type: 'died', collateral: false, message: `could not start the attempt process: ${err.message}` });
    });
    this.send({ type: 'run', spec });
    void trackerLoading.then(() => {
      if (trackerModule && !this.exited && this.pid > 0) {
        try {
          this.tracker = new trackerModule.TreeTracker(this.pid);
        } catch {
          // Falls back to the process group.
        }
      }
    });
    const interval = spec.memoryMb ? memorySampleMs : TREE_SAMPLE_MS;
    this.sampler = setInterval(() => this.sample(), interval);
  }

  abort(reason: string): void {
    if (this.ended) return;
    const send = (): void => this.send({ type: 'abort', key: this.spec.key, reason });
    if (this.capturing) void settlesWithin(this.capturing, ABORT_HOLD_MS).then(send);
    else send();
  }

  kill(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.killing ??= (async () => {
      hostEvents.publish({ event: 'killed', executor: 'process', pid: this.pid });
      this.killRequested = true;
      this.killTree();
      if (await settlesWithin(this.done, this.killBoundMs)) return;
      // The exit was not reported in time (a process in uninterruptible sleep): it is SIGKILLed, report it so.
      this.finish(this.endOf(null, 'SIGKILL'));
    })();
    return this.killing;
  }

  async captureHang(budgetMs: number): Promise<HangReport['where']> {
    if (this.ended || this.exited) return { notes: ['the attempt had already ended when its hang was captured'] };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<HangReport['where']>((resolve) => {
      timer = setTimeout(() => resolve({ notes: [`capture did not answer within ${budgetMs} ms`] }), budgetMs);
    });
    const capture = (async (): Promise<HangReport['where']> => {
      try {
        const mod = (await import(PROCESS_STACK_MODULE)) as {
          captureProcessStack(pid: number, budgetMs: number, options?: { report?: boolean; inspectorSocket?: string }): Promise<HangReport['where']>;
        };
        const options = this.inspectorSocket ? { inspectorSocket: this.inspectorSocket } : { report: false };
        return await mod.captureProcessStack(this.pid, Math.max(0, budgetMs - 20), options);
      } catch (err) {
        return { notes: [`process capture failed: ${err instanceof Error ? err.message : String(err)}`] };
      }
    })();
    this.capturing = capture;
    try {
      return await Promise.race([capture, timeout]);
    } finally {
      clearTimeout(timer);
      this.capturing = null;
    }
  }

  pids(): number[] {
    if (this.exited) return [...this.execPids];
    const tree = this.treePids();
    return [...new Set([...tree, ...this.execPids])];
  }

  private send(message: RunnerInbound): void {
    if (this.exited || !this.child.connected) return;
    try {
      this.child.send(message);
    } catch {
      // The process is going away: its exit ends the attempt.
    }
  }

  private output(stream: 'stdout' | 'stderr', line: string): void {
    if (this.ended) return;
    this.channel.log(stream, line, Date.now());
    this.channel.activity();
  }

  private onMessage(message: RunnerOutbound): void {
    if (this.ended || message.type === 'diagnosis' || message.key !== this.spec.key) return;
    const { channel } = this;
    try {
      if (message.type === 'end') {
            this.reported ??= message.end;
        return;
      }
      relay(message, channel, this.execPids, (id, call) => this.answer(id, call));
    } catch (err) {
      process.emitWarning(`vigil: attempt channel failed on "${message.type}" for ${this.spec.key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private answer(id: number, call: () => Promise<unknown>): void {
    const key = this.spec.key;
    Promise.resolve()
      .then(call)
      .then(
        (value) => this.send({ type: 'reply', key, id, ok: true, value }),
        (err: unknown) => this.send({ type: 'reply', key, id, ok: false, error: toSerialized(err) }),
      );
  }

  private sample(): void {
    if (this.exited) return;
    // Sampling is also how the tracker learns of descendants that leave the group, so it runs without a limit too.
    this.treePids();
    if (!this.spec.memoryMb || this.oomMessage) return;
    const rssKb = this.tracker ? this.tracker.rssKb() : rssOf(this.pid);
    if (rssKb > this.spec.memoryMb * 1024) {
      this.oomMessage = `the task's process tree used ${Math.round(rssKb / 1024)} MB, over its memory limit (memoryMb: ${this.spec.memoryMb}), and was killed`;
      this.killTree();
    }
  }

  private treePids(): number[] {
    if (this.tracker) {
      try {
        return this.tracker.sample();
      } catch {
        // Fall through to the root pid.
      }
    }
    return this.pid > 0 ? [this.pid] : [];
  }

  /** SIGKILL to the group, every descendant the tracker saw (some leave the group) and every ctx.exec program. */
  private killTree(): void {
    if (this.pid > 0) {
      if (this.tracker) {
        try {
          this.tracker.killAll('SIGKILL');
        } catch {
          // The group kill below still runs.
        }
      }
      killGroup(this.pid);
    }
    for (const pid of this.execPids) killGroup(pid);
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.exited) return;
    this.exited = true;
    if (this.sampler) clearInterval(this.sampler);
    // The helper may have made its socket after finish() (a fast attempt): once the process is gone, nobody will.
    if (this.inspectorSocket) rmSync(this.inspectorSocket, { force: true });
    // Whatever the attempt left behind (background programs in its group) dies with it.
    this.killTree();
    await settlesWithin(this.outputClosed, OUTPUT_DRAIN_MS);
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.finish(this.endOf(code, signal));
  }

  private endOf(code: number | null, signal: NodeJS.Signals | null): AttemptEnd {
    if (this.reported) return this.reported;
    if (this.oomMessage) return { type: 'oom', message: this.oomMessage };
    if (this.killRequested) return { type: 'killed' };
    return {
      type: 'died',
      collateral: false,
      message: `the attempt process (pid ${this.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before the task finished`,
    };
  }

  private finish(end: AttemptEnd): void {
    if (this.ended) return;
    this.ended = true;
    if (this.inspectorSocket) rmSync(this.inspectorSocket, { force: true });
    if (this.sampler) clearInterval(this.sampler);
    for (const pid of this.execPids) killGroup(pid);
    this.resolveDone(end);
  }
}

/** RSS of one process from /proc (the fallback until the tree tracker is available). */
function rssOf(pid: number): number {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return Number.isFinite(pages) ? (pages * 4096) / 1024 : 0;
  } catch {
    return 0;
  }
}

function positiveInt(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new VigilError('VIGIL_USAGE', `ProcessExecutor: option "${name}" must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}
