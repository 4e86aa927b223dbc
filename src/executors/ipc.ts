import { StringDecoder } from 'node:string_decoder';
import type { HangReport, Json, LogStream, Progress, SerializedError } from '../types.js';
import type { AllRequest, AttemptEnd, AttemptSpec, SpawnRequest } from './types.js';

/**
 * Wire format between the three places an attempt touches:
 *   supervisor ⇄ host process (child_process IPC, 'advanced' serialization)
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
  | { type: 'end'; key: string; end: AttemptEnd }
  | DiagnoseReply;

/** Supervisor → host. */
export type HostInbound =
  | { type: 'start'; spec: AttemptSpec }
  | { type: 'abort'; key: string; reason: string }
  | { type: 'kill'; key: string }
  | { type: 'capture'; key: string; id: number; budgetMs: number }
  | ReplyMessage;

/** Host → supervisor: the runner's attempt messages (forwarded), plus answers to captures. */
export type HostOutbound =
  | Exclude<RunnerOutbound, DiagnoseReply>
  | { type: 'captured'; id: number; where: HangReport['where'] };

/** Longest line kept: a task printing a 100 MB line without a newline must not hold 100 MB in the host. */
export const MAX_LINE_BYTES = 8 * 1024;

/**
 * Written by the runner to its own stdout and stderr after an attempt, before reporting the end: the host holds the
 * end back until it has read this marker on both streams, so console output printed just before `return` is
 * attributed to the right attempt (thread stdout and the message port are separate channels with no ordering).
 */
export const END_MARKER = '\u0000vigil:attempt-end\u0000\n';
const MARKER_TEXT = END_MARKER.slice(0, -1);

/**
 * Splits a byte stream into lines, bounded in memory: a line longer than MAX_LINE_BYTES is emitted cut, and the
 * rest of it (up to its newline) is dropped.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private dropping = false;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly onMarker?: () => void,
  ) {}

  write(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      this.line(this.buffer + text.slice(start, nl));
      this.buffer = '';
      start = nl + 1;
    }
    if (start < text.length) this.append(text.slice(start));
  }

  /** Emits a pending partial line (the stream ended or the attempt is over). */
  flush(): void {
    const rest = this.buffer + this.decoder.end();
    this.buffer = '';
    if (rest.length > 0 && !this.dropping) this.emitLine(rest);
    this.dropping = false;
  }

  private append(text: string): void {
    if (this.dropping) return;
    this.buffer += text;
    if (this.buffer.length > MAX_LINE_BYTES) {
      this.emitLine(this.buffer);
      this.buffer = '';
      this.dropping = true;
    }
  }

  private line(line: string): void {
    if (this.onMarker && line.endsWith(MARKER_TEXT)) {
      const before = line.slice(0, -MARKER_TEXT.length);
      if (before.length > 0 && !this.dropping) this.emitLine(before);
      this.dropping = false;
      this.onMarker();
      return;
    }
    if (this.dropping) {
      this.dropping = false;
      return;
    }
    this.emitLine(line);
  }

  private emitLine(line: string): void {
    this.emit(line.length > MAX_LINE_BYTES ? `${line.slice(0, MAX_LINE_BYTES)}…[line cut at ${MAX_LINE_BYTES} chars]` : line);
  }
}
