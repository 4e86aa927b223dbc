import type { ErrorKind, JobState, StackFrame } from '../../types.js';

/**
 * `vigil doctor --json`: version 1. Fields are only ever added; a change of meaning gets a new `version`.
 * Documented field by field in docs/operations.md.
 */
export interface DoctorReport {
  version: 1;
  /** True when no check failed: nothing needs a human. The exit code is 0 exactly then. */
  ok: boolean;
  checkedAt: string;
  store: {
    description: string;
    reachable: boolean;
    schemaVersion: number | null;
    expectedSchemaVersion: number | null;
  };
  checks: DoctorCheck[];
  workers: WorkerView[];
  queues: QueueView[];
  expiredLeases: Array<{ id: string; task: string; leaseOwner: string | null; expiredMsAgo: number }>;
  pastDeadline: Array<{ id: string; task: string; state: JobState; pastMs: number }>;
  settledParents: Array<{ id: string; task: string; children: number; lastChildEndedMsAgo: number }>;
  hangs: Array<{ task: string; kind: ErrorKind; count: number; lastAt: string }>;
  freezes: Array<{ workerId: string; pid: number; hostname: string; at: string; blockedMs: number; action: 'logged' | 'restart'; stack: StackFrame[]; notes: string[] }>;
}

export type CheckId =
  | 'node'
  | 'store'
  | 'schema'
  | 'workers'
  | 'expired-leases'
  | 'unserved-tasks'
  | 'past-deadline'
  | 'settled-parents'
  | 'queues'
  | 'hangs'
  | 'supervisor-freezes'
  | 'event-loop'
  | 'tsx';

/** `fail`: needs a human (exit 1). `warn`: worth knowing, Vigil is handling it. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  id: CheckId;
  status: CheckStatus;
  summary: string;
  /** What to do, for warn and fail; null when ok. */
  action: string | null;
  details: string[];
}

export interface WorkerView {
  workerId: string;
  hostname: string;
  pid: number;
  concurrency: number;
  tasks: string[];
  state: 'live' | 'lost';
  lastSeenAt: string;
  lastSeenMsAgo: number;
  /** Silent longer than this: lost (its lease plus a margin). */
  lostAfterMs: number;
  /** As the worker last reported it; null when it never did. */
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
}

export interface QueueView {
  task: string;
  queued: number;
  runnable: number;
  running: number;
  oldestWaitingMs: number | null;
  /** Live workers serving this task. */
  liveWorkers: number;
}
