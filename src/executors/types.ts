import type { StdinOption } from '../task/define.js';
import type { ChildOutcome, ChildPolicy, HangReport, Json, LogStream, Progress, SerializedError } from '../types.js';

/**
 * The boundary between the engine (which owns the store, timers and policy) and executors (which own threads and
 * processes). Executors never touch the store; the engine never touches a thread or a pid directly.
 */

export interface AttemptSpec {
  /** `${jobId}:${attempt}`, unique among running attempts. */
  key: string;
  jobId: string;
  attempt: number;
  task: string;
  input: Json;
  /** Absolute path of the tasks module (.ts or .js) the executor loads. */
  tasksModule: string;
  memoryMb: number | null;
  /** When the attempt must be over (epoch ms, local clock): ctx.exec uses it as its default timeout. */
  endsAt: number;
  /** Set for command tasks only: the program to run (argv already built from the input by the engine). */
  command?: CommandSpec;
}

export interface CommandSpec {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  stdin: StdinOption;
  /** How the result is read: exit status only, the last stdout line as JSON, or $VIGIL_RESULT_FILE. */
  result: 'exit' | 'last-line' | 'file';
  /** Arm faulthandler in the program's Python processes for hang reports (default true). */
  pythonStacks?: boolean;
}

/** How an attempt's code ended, as far as the executor can tell. The engine turns this into an outcome. */
export type AttemptEnd =
  | { type: 'returned'; value: Json }
  /** The task threw. error.kind is 'error' or 'children'; error.retryable false when it asked for no retry. */
  | { type: 'threw'; error: SerializedError }
  /** The memory limit was hit (thread resource limits, or the process tree's RSS). */
  | { type: 'oom'; message: string }
  /**
   * The thread or process died without the engine asking. `collateral: true` when it died only because its
   * shared host was killed to stop another attempt: the engine re-queues it without charging an attempt.
   */
  | { type: 'died'; message: string; collateral: boolean }
  /** Ended by kill() (the engine decides the outcome: timeout, stalled, cancelled...). */
  | { type: 'killed' };

export interface SpawnRequest {
  task: string;
  input: Json;
  key: string;
}

export interface SpawnedChild {
  key: string;
  jobId: string;
}

export interface AllRequest {
  children: Array<{ key: string; jobId: string }>;
  policy: ChildPolicy;
}

/** Executor → engine: what the running code says. Calls come in order for one attempt. */
export interface AttemptChannel {
  log(stream: LogStream, line: string, ts: number): void;
  heartbeat(details: Json | undefined): void;
  progress(progress: Progress): void;
  /** Creates (or finds) durable children; resolves with their ids. */
  spawn(children: SpawnRequest[]): Promise<SpawnedChild[]>;
  /** Waits for children under a policy; rejects with a serialized error (kind 'children') when it fails. */
  all(request: AllRequest): Promise<ChildOutcome[]>;
  /** A program started through ctx.exec: its process group is killed with the attempt. */
  processStarted(pid: number): void;
  processEnded(pid: number): void;
  /** Output was seen (stdout/stderr) — feeds `silence` for command tasks. */
  activity(): void;
  /**
   * ctx.isCurrent(): whether this attempt still holds the job in the store (its fence is valid). Executors never
   * touch the store; the engine answers. Absent (stubs): treated as current.
   */
  isCurrent?(): Promise<boolean>;
  /**
   * The attempt's own clocks start now; returns when it must be over (epoch ms, local clock), which replaces the
   * spec's `endsAt`. An executor that may queue an attempt behind other attempts (the thread executor, while all its
   * threads are busy: see RunningAttempt.queued) calls it when a thread is given to the attempt or started for it.
   * The engine starts the attempt's timeout, heartbeat and silence then: queueing behind other attempts is not part of
   * this attempt (only the job's deadline runs meanwhile); its own thread's start is, as it always was. Absent
   * (stubs): the spec's endsAt stands.
   */
  clockStarts?(): number;
}

export interface RunningAttempt {
  /**
   * True while the attempt queues in the executor behind other attempts (no thread given to it or started for it
   * yet); the executor then calls channel.clockStarts() when one is. Absent or false: its clocks start with start().
   */
  readonly queued?: boolean;
  /** Resolves exactly once, always — after kill() at the latest within the executor's kill bound. */
  readonly done: Promise<AttemptEnd>;
  /** Fires ctx.signal inside the task (a request to stop; the code may ignore it). */
  abort(reason: string): void;
  /** Ends the code for good: terminate the thread (killing its host if that does not work), or kill the tree. */
  kill(): Promise<void>;
  /** Where the code is stuck right now, within budgetMs; never throws. */
  captureHang(budgetMs: number): Promise<HangReport['where']>;
  /** Pids of the process tree the attempt owns (empty for a thread in a shared host). */
  pids(): number[];
}

/** Threads to have ready before the first attempt (Executor.prewarm). */
export interface PrewarmRequest {
  /** The tasks module the threads load while they start. */
  tasksModule: string;
  /** How many threads (the executor caps it, e.g. at one host's worth). */
  threads: number;
  /** The memory limit the threads are started with (default none). */
  memoryMb?: number | null;
  /** Resolve after this long even if not every thread is ready (default 10 s). */
  withinMs?: number;
}

export interface Executor {
  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt;
  /**
   * Optional: get ready to run attempts before the first one comes (start threads, load the tasks module). Bounded
   * in time; never rejects (whatever fails is reported by the attempts).
   */
  prewarm?(request: PrewarmRequest): Promise<void>;
  /** Kills everything still running; resolves when no thread or process of this executor remains. */
  close(): Promise<void>;
}
