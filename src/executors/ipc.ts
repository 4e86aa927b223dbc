import type { HangReport, Json, LogStream, Progress, SerializedError } from '../types.js';
import type { LineSplitter } from './line-splitter.js';
import type { AllRequest, AttemptEnd, AttemptSpec, SpawnRequest } from './types.js';

/**
 * Wire format between the three places an attempt touches:
 *   supervisor ⇄ host process (child_process IPC, JSON: every message is JSON-safe by construction — inputs,
 *   results and heartbeat details are checked by payloadProblem — and JSON costs ~30 % less CPU per attempt than
 *   'advanced' here, bench/NOTES.md)
 *   host ⇄ worker thread (worker.postMessage), or supervisor ⇄ attempt process (process mode).
 * The runner (thread or process) speaks RunnerInbound/RunnerOutbound; the host adds HostInbound/HostOutbound.
 * Every attempt-scoped message carries the attempt key so late messages for a finished attempt can be dropped.
 */

/** Anything → runner. */
export type RunnerInbound =
  | { type: 'run'; spec: AttemptSpec }
  | { type: 'abort'; key: string; reason: string }
  | ReplyMessage
  | DiagnoseRequest;

export type ReplyMessage =
  | { type: 'reply'; key: string; id: number; ok: true; value: unknown }
  | { type: 'reply'; key: string; id: number; ok: false; error: SerializedError };

/** Sent to a runner's port (e.g. by forensics through the host's Worker object); answered with a DiagnoseReply. */
export interface DiagnoseRequest {
  type: 'diagnose';
  id: number;
}

export interface DiagnoseReply {
  type: 'diagnosis';
  id: number;
  resources: Array<{ type: string; description: string }>;
  /** Set when the resources could not be collected. */
  error?: string;
}

/** Runner → anything. Attempt-scoped messages come in order. */
export type RunnerOutbound =
  | { type: 'log'; key: string; stream: LogStream; line: string; ts: number }
  | { type: 'heartbeat'; key: string; details: Json | undefined }
  | { type: 'progress'; key: string; progress: Progress }
  | { type: 'activity'; key: string }
  | { type: 'spawn'; key: string; id: number; children: SpawnRequest[] }
  | { type: 'all'; key: string; id: number; request: AllRequest }
  | { type: 'exec-started'; key: string; pid: number }
  | { type: 'exec-ended'; key: string; pid: number }
  /** ctx.isCurrent(): does this attempt still hold the job? Answered by the engine, which asks the store. */
  | { type: 'is-current'; key: string; id: number }
  | { type: 'end'; key: string; end: AttemptEnd }
  | DiagnoseReply;

/**
 * Thread → host, once, when a task thread starts: its OS thread id, through which the host finds the programs the
 * thread's tasks start (they die with the attempt; see proctree.ts threadDescendants). null where it is unknown.
 */
export interface ThreadHello {
  type: 'os-thread';
  tid: number | null;
}

/**
 * Messages for one channel, written as one array per event-loop turn: the attempts that end (or start) in the same
 * turn share one write and one wake-up of the other side, where a message each cost a write syscall each.
 * Order is kept. The flush runs in the same turn's check phase (setImmediate), so a message waits at most the I/O
 * callbacks of the current turn.
 */
export class Outbox<T> {
  private queue: T[] = [];

  constructor(private readonly write: (batch: T[]) => void) {}

  push(message: T): void {
    if (this.queue.length === 0) setImmediate(this.flush);
    this.queue.push(message);
  }

  /** Writes what is queued now (also called by the scheduled flush). */
  readonly flush = (): void => {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.write(batch);
  };
}

/** Supervisor → host (sent in arrays: see Outbox). */
export type HostInbound =
  | { type: 'start'; spec: AttemptSpec }
  | { type: 'abort'; key: string; reason: string }
  | { type: 'kill'; key: string }
  | { type: 'capture'; key: string; id: number; budgetMs: number }
  | ReplyMessage;

/** Host → supervisor (sent in arrays: see Outbox): the runner's attempt messages (forwarded), plus answers to captures. */
export type HostOutbound =
  | Exclude<RunnerOutbound, DiagnoseReply>
  | { type: 'captured'; id: number; where: HangReport['where'] };

/**
 * The end-of-output protocol of thread attempts, in one place. A task thread's console output (its stdout/stderr
 * streams) and its messages (the port) are separate channels with no ordering between them, so an attempt's last
 * console line could arrive after its `end` and be lost or given to the next attempt on that thread. So:
 * 1. after each attempt, the runner (thread-entry.ts) writes END_MARKER to each stream the attempt wrote to, counts
 *    it in memory shared with the host, then posts `end` (an attempt that printed nothing writes no marker);
 * 2. the host (thread-host.ts) counts markers seen on each stream (EndMarkerScanner below), and holds `end` back
 *    until both streams have shown as many markers as the thread counted — everything before the marker belongs
 *    to the attempt that just ended;
 * 3. a marker that does not come within MARKER_WAIT_MS (a thread that died mid-write) releases `end` anyway.
 */
export const END_MARKER = '\u0000vigil:attempt-end\u0000\n';
const MARKER = Buffer.from(END_MARKER, 'utf8');

/**
 * Feeds a thread's output stream to a LineSplitter, cutting at each END_MARKER: the unfinished line before a
 * marker is emitted as the attempt's last line, then `onMarker` runs. A marker split across chunks is found too.
 */
export class EndMarkerScanner {
  private carry: Buffer | null = null;

  constructor(
    private readonly lines: LineSplitter,
    private readonly onMarker: () => void,
  ) {}

  write(chunk: Buffer): void {
    let data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    for (let at = data.indexOf(MARKER); at !== -1; at = data.indexOf(MARKER)) {
      if (at > 0) this.lines.write(data.subarray(0, at));
      this.lines.end();
      this.onMarker();
      data = data.subarray(at + MARKER.length);
    }
    const partial = markerPrefixAt(data);
    if (partial === -1) {
      this.lines.write(data);
      return;
    }
    this.lines.write(data.subarray(0, partial));
    this.carry = Buffer.from(data.subarray(partial));
  }

  /** Emits whatever is pending (the attempt is over without its marker, or the stream ended). */
  flush(): void {
    if (this.carry) this.lines.write(this.carry);
    this.carry = null;
    this.lines.end();
  }
}

/** Where the tail of `data` is a proper prefix of the marker (a marker split across chunks), or -1. */
function markerPrefixAt(data: Buffer): number {
  for (let i = Math.max(0, data.length - MARKER.length + 1); i < data.length; i++) {
    if (data[i] === MARKER[0] && MARKER.subarray(0, data.length - i).equals(data.subarray(i))) return i;
  }
  return -1;
}
