/** Data types shared by every layer (store, engine, executors, surfaces). Plain JSON-able shapes only. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** How an attempt ended when it did not succeed (DESIGN §2). */
export type ErrorKind = 'error' | 'timeout' | 'stalled' | 'crashed' | 'oom' | 'cancelled' | 'deadline' | 'children';
export const ERROR_KINDS: readonly ErrorKind[] = [
  'error',
  'timeout',
  'stalled',
  'crashed',
  'oom',
  'cancelled',
  'deadline',
  'children',
];
export const RETRYABLE_KINDS: readonly ErrorKind[] = ['error', 'timeout', 'stalled', 'crashed', 'oom'];

export type AttemptOutcome = 'succeeded' | ErrorKind;

/** An error as stored: everything needed to understand it later, nothing that needs the original object. */
export interface SerializedError {
  kind: ErrorKind;
  message: string;
  name?: string;
  stack?: string;
  code?: string;
  retryable?: boolean;
  cause?: SerializedError | { message: string };
  /** Extra facts: exit code, signal, failed children... */
  details?: { [key: string]: Json };
}

export interface Progress {
  fraction: number | null;
  done?: number;
  total?: number;
  message?: string;
}

export interface RetryPolicy {
  /** Total attempts allowed, first one included. */
  maxAttempts: number;
  backoffMs: number;
  factor: number;
  maxDelayMs: number;
  /** 0..1: the share of each delay that is randomised. */
  jitter: number;
}

export interface Job {
  id: string;
  task: string;
  state: JobState;
  input: Json;
  result: Json | null;
  error: SerializedError | null;
  /** Attempts started so far, charged or not. */
  attempts: number;
  /** Attempts counted against the retry budget (uncharged ones: the worker shut down or lost a shared host). */
  chargedAttempts: number;
  maxAttempts: number;
  parentId: string | null;
  childKey: string | null;
  idempotencyKey: string | null;
  priority: number;
  runAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  deadlineAt: number | null;
  progress: Progress | null;
  lastHeartbeatAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  /** Why a due queued job is not running (a rate limit, a paused task); null otherwise. */
  waitReason?: string | null;
  /** Why it was cancelled, as given to cancel(); null when not cancelled (absent from stores that do not keep it). */
  cancelReason?: string | null;
}

export interface Attempt {
  jobId: string;
  attempt: number;
  workerId: string;
  startedAt: number;
  finishedAt: number | null;
  outcome: AttemptOutcome | null;
  charged: boolean;
  error: SerializedError | null;
  hangReport: HangReport | null;
  /** The latest look inside this attempt taken without stopping it (`vigil inspect --now`), or null. */
  snapshot?: AttemptSnapshot | null;
}

export type LogStream = 'stdout' | 'stderr' | 'log' | 'system';

export interface LogLine {
  jobId: string;
  attempt: number;
  seq: number;
  ts: number;
  stream: LogStream;
  line: string;
}

/** One frame of a captured JS stack. */
export interface StackFrame {
  functionName: string;
  file: string;
  line: number;
  column: number;
}

export interface ProcessSnapshot {
  pid: number;
  ppid: number;
  pgid?: number;
  command: string;
  state?: string;
  wchan?: string;
  syscall?: string;
  blockedOn?: string;
  rssKb?: number;
  threads?: Array<{ tid: number; name?: string; state?: string; wchan?: string; syscall?: string }>;
  /** A Python process of a command task: the Python stack of each of its threads (faulthandler). */
  pythonStack?: PythonThreadStack[];
}

/** One Python thread's stack, innermost frame first (column is always 0). */
export interface PythonThreadStack {
  /** The thread's id as faulthandler prints it (0x…). */
  thread: string;
  /** The thread that was running Python when the signal arrived. */
  current: boolean;
  frames: StackFrame[];
}

/** DESIGN §5. */
export interface HangReport {
  kind: ErrorKind;
  capturedAt: number;
  elapsedMs: number;
  captureMs: number;
  lastHeartbeatAt: number | null;
  progress: Progress | null;
  logTail: string[];
  where: {
    stack?: StackFrame[];
    asyncStack?: StackFrame[];
    pendingResources?: Array<{ type: string; description: string }>;
    processes?: ProcessSnapshot[];
    notes: string[];
  };
}

/**
 * A hang report's facts without an ending: taken on request while the attempt keeps running. `requestedAt` is the
 * store-clock stamp of the request it answered (a waiter knows its answer by it).
 */
export type AttemptSnapshot = Omit<HangReport, 'kind'> & { requestedAt: number };

/** What `ctx.all` returns per child, in input order. */
export type ChildOutcome<O = Json> =
  | { key: string; jobId: string; status: 'succeeded'; value: O }
  | { key: string; jobId: string; status: 'failed'; kind: ErrorKind; message: string; attempts: number };

export type ChildPolicy = 'allSettled' | 'failFast' | { minSuccess: number };
