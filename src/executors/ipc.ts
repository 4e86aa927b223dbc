import { StringDecoder } from 'node:string_decoder';
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
  /** Load the tasks module now (a thread being warmed), then answer ThreadWarmed; a load error is left to the attempt. */
  | { type: 'warm'; tasksModule: string }
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

/** Thread → host: the runner has loaded the tasks module it was asked to warm (or failed to: the attempt will say). */
export interface ThreadWarmed {
  type: 'warmed';
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

/**
 * Supervisor → host (sent in arrays: see Outbox). `slot`: the host's id of a thread (ThreadSlotId); the supervisor
 * names the thread of every attempt it sends, so the host and a direct start (DIRECT_IN) never pick the same one.
 */
export type HostInbound =
  | { type: 'start'; spec: AttemptSpec; slot: number }
  /**
   * Start one thread without an attempt (thread-executor.ts decides when): it loads `tasksModule`, then the host
   * answers `ready`. `retire`: an idle thread to stop first, to stay at threadsPerHost.
   */
  | { type: 'grow'; memoryMb: number | null; tasksModule: string | null; retire?: number }
  | { type: 'abort'; key: string; reason: string; slot: number }
  /** `seq`: the how-manyth attempt on its thread it is (ipc.ts SLOT_STATE), so an unread one is told from a finished one. */
  | { type: 'kill'; key: string; slot: number; seq: number }
  | { type: 'capture'; key: string; id: number; budgetMs: number; slot: number }
  | ReplyMessage;

/** Host → supervisor (sent in arrays: see Outbox): the runner's attempt messages (forwarded), plus answers to captures. */
export type HostOutbound =
  | Exclude<RunnerOutbound, DiagnoseReply | { type: 'end' }>
  /**
   * An attempt ended; `reusable`: its thread is idle again (not killed, exited or retired); `ranMs`: how long it
   * held its thread (the executor tells busy threads from a saturated machine with it).
   */
  | { type: 'end'; key: string; end: AttemptEnd; reusable: boolean; ranMs: number; slot: number }
  /**
   * A thread asked for by `grow` is ready (`end` absent), or could not start (`end`: what became of it, for the
   * attempt that waited for it). `threads`/`created`: the host's live threads and threads created so far.
   */
  | { type: 'ready'; memoryMb: number | null; end?: AttemptEnd; threads: number; created: number; slot: number }
  /**
   * An idle thread went away by itself (a timer left by an earlier attempt called process.exit, say). `after`: the
   * attempt it ran last, when that one ended directly (DIRECT_END_FD): its end travels on another pipe and may arrive
   * after this message, so the supervisor must not count the thread idle again when it does. An attempt sent to the
   * thread on its DIRECT_IN socket and not named here never started (the thread died before it read it).
   */
  | { type: 'thread-gone'; memoryMb: number | null; after?: string; slot: number }
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

/**
 * The direct end (bench/NOTES.md "exec2"): an attempt that ends *quietly* — it wrote nothing to its console, posted
 * no message of its own (log, heartbeat, progress, spawn, exec, …) and its end encodes to at most
 * DIRECT_END_MAX_BYTES — reports its end from its thread straight to the supervisor, on a pipe of its own host
 * (stdio fd DIRECT_END_FD of the host, one JSON line per end: a write that small is one atomic write(2), so the
 * threads of a host share the pipe), instead of thread → host main thread → supervisor. That saves one of the four
 * cross-thread wake-ups per attempt and the host main thread's relay. Nothing can be overtaken: the attempt sent
 * nothing else, and a task's console output forces the normal path (the END_MARKER protocol).
 *
 * Who owns the end is decided in one word of the memory the host shares with each thread (`SLOT_STATE`, index 2 of
 * the markers buffer), by compare-and-swap, so the host never reports an end twice nor misses one (the phases are
 * described with the direct start below). A thread that has programs running (its /proc children) ends through the
 * host, which kills them with the attempt.
 */
export const DIRECT_END_FD = 4;
export const DIRECT_END_MAX_BYTES = 4096;
/** A direct end on the pipe: what the host would have sent (`reusable` is always true: a thread ending directly stays). */
export type DirectEnd = Extract<HostOutbound, { type: 'end' }>;

/**
 * The direct start (bench/NOTES.md "the way in"): the supervisor sends `run` (and `abort`) for an attempt straight to
 * its thread, on a Unix socket the thread opened to the supervisor's DirectIn server (direct-in.ts) — instead of
 * supervisor → host main thread → thread, one wake-up and the host's relay less per attempt. The socket belongs to the
 * thread's own event loop, so it closes with the thread and never with the host.
 *
 * The host learns of such an attempt without being woken, through the memory it shares with each thread: before it
 * runs anything, the thread writes the attempt's key (KEY_*) and then moves the SLOT_STATE word from idle to RUNNING
 * with the next sequence number, by compare-and-swap; wherever the host looks at the slot (output, a message, a kill,
 * a capture, the thread's exit) it reads the word first (thread-host.ts sync()). The word is `seq << 2 | phase`:
 *   SLOT_IDLE     no attempt (set by the host when it reported an end itself; a new thread starts here);
 *   SLOT_RUNNING  an attempt runs (seq: the how-manyth on this thread), its end may go directly (DIRECT_END_FD);
 *   SLOT_DIRECT   set by the thread (RUNNING → DIRECT) just before it writes the end to the pipe: the attempt is over;
 *                 the thread is idle for the supervisor's next `run` from here too;
 *   SLOT_VIA_HOST set by the host when it must see the end itself (RUNNING → VIA_HOST: a kill, a thread to retire
 *                 after it), and by a kill of an attempt the thread has not read yet (idle → next seq, VIA_HOST): the
 *                 thread's own swap then fails and it drops that run, so exactly one of them owns the attempt's end.
 * The host reads key and word seqlock-style (word, key, word again): a key is overwritten only two attempts later.
 */
export const SLOT_STATE = 2;
export const SLOT_IDLE = 0;
export const SLOT_RUNNING = 1;
export const SLOT_DIRECT = 2;
export const SLOT_VIA_HOST = 3;
export const slotWord = (seq: number, phase: number): number => ((seq << 2) | phase) | 0;
export const seqOf = (word: number): number => word >>> 2;
export const phaseOf = (word: number): number => word & 3;
/**
 * The published key, in two halves by the parity of its seq (so the thread never writes the half the host may be
 * reading): Int32 indices KEY_LENGTH + half hold the lengths (UTF-16 units), the units start at byte KEY_AT.
 */
export const KEY_LENGTH = 3;
export const KEY_AT = 24;
/** Longer keys are never started directly (they go through the host, which is told the key in the message). */
export const KEY_MAX_UNITS = 256;
export const SHARED_BYTES = KEY_AT + 2 * 2 * KEY_MAX_UNITS;

/**
 * Reads the one-JSON-line-per-message channels of the direct paths (DIRECT_END_FD, DIRECT_IN): chunks may split lines
 * and UTF-8 characters. A line that does not parse is skipped: only Vigil's own processes write there.
 */
export function jsonLines<T>(onMessage: (message: T) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  return (chunk) => {
    const text = carry + decoder.write(chunk);
    let at = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; at = nl + 1, nl = text.indexOf('\n', at)) {
      let message: T;
      try {
        message = JSON.parse(text.slice(at, nl)) as T;
      } catch {
        continue;
      }
      onMessage(message);
    }
    carry = text.slice(at);
  };
}

/** Supervisor → thread on its DIRECT_IN socket, one JSON line each. */
export type DirectInMessage = { type: 'run'; spec: AttemptSpec } | { type: 'abort'; key: string; reason: string };
/** Thread → supervisor, the first line on its socket: the token the host was given, the host's pid, the thread's id. */
export interface DirectHello {
  token: string;
  host: number;
  slot: number;
}
/** The host's environment variable carrying "path token" of the supervisor's DirectIn server (removed at once). */
export const DIRECT_IN_ENV = 'VIGIL_DIRECT_IN';
