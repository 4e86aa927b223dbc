/**
 * Bounded handling of a program's output bytes. A program may print gigabytes, a line of a gigabyte without a
 * newline, or binary garbage; none of it may grow the worker's memory or break the log (a NUL byte is not even
 * storable in a PostgreSQL text column). So:
 * - LineSplitter holds at most one line's worth (maxLineBytes) of pending bytes; the rest of an over-long line is
 *   only counted, and the line is emitted cut with a `…[cut N bytes]` marker, at most MAX_LOG_LINE_BYTES in all
 *   (the store's limit: a line cut here is not cut again there).
 * - `\n`, `\r\n` and a lone `\r` (progress bars redraw with it) all end a line.
 * - lineText() decodes UTF-8 (invalid sequences become U+FFFD) and escapes control characters as `\xNN`.
 * - ByteTail keeps the last N bytes of a stream for error messages and results, copying at most N bytes per chunk.
 * - LogBudget decides how many lines reach the job's log at all.
 */

import { CUT_LINE_KEEP_BYTES, cutMarker, MAX_LOG_LINE_BYTES } from '../log-line.js';

/** Pending bytes held per stream: a cut line keeps at most CUT_LINE_KEEP_BYTES of them (see log-line.ts). */
export const MAX_LINE_BYTES = MAX_LOG_LINE_BYTES;

/**
 * Receives one line. `bytes` is only valid during the call (it may be a view of a reused buffer): decode or copy
 * it before returning. `cutBytes` > 0 when the line was longer than the limit and that many bytes were dropped.
 */
export type LineHandler = (bytes: Buffer, cutBytes: number) => void;

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private readonly pending: Buffer;
  private pendingLength = 0;
  private cut = 0;
  /** The previous chunk ended with `\r`: a `\n` starting the next chunk belongs to it. */
  private afterCr = false;

  constructor(
    private readonly onLine: LineHandler,
    private readonly maxLineBytes: number = MAX_LINE_BYTES,
  ) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 16) throw new RangeError(`maxLineBytes must be an integer ≥ 16 (got ${maxLineBytes})`);
    this.pending = Buffer.allocUnsafe(maxLineBytes);
  }

  write(chunk: Buffer): void {
    let start = 0;
    const length = chunk.length;
    if (this.afterCr && length > 0) {
      this.afterCr = false;
      if (chunk[0] === LF) start = 1;
    }
    // The next CR is looked up once per chunk, not once per line: most output has none, and searching the rest of
    // a 64 KiB chunk for each of its lines would be quadratic.
    let cr = chunk.indexOf(CR, start);
    while (start < length) {
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
      const lf = chunk.indexOf(LF, start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) {
        this.append(chunk, start, length);
        return;
      }
      this.lineEnd(chunk, start, end);
      if (chunk[end] === CR) {
        if (end + 1 === length) this.afterCr = true;
        else if (chunk[end + 1] === LF) {
          start = end + 2;
          continue;
        }
      }
      start = end + 1;
    }
  }

  /** True when bytes of an unfinished line are held. */
  get hasPartial(): boolean {
    return this.pendingLength > 0 || this.cut > 0;
  }

  /**
   * Emits the unfinished line now (the stream ended, or it has been quiet: a prompt like `Password: ` waiting on
   * stdin should be visible in the log and hang report). Whatever follows starts a new line.
   */
  flush(): void {
    if (!this.hasPartial) return;
    this.emit(this.pending.subarray(0, this.pendingLength));
  }

  /** The stream ended. */
  end(): void {
    this.flush();
    this.afterCr = false;
  }

  private lineEnd(chunk: Buffer, start: number, end: number): void {
    if (this.pendingLength === 0 && this.cut === 0) {
      const n = end - start;
      if (n <= this.maxLineBytes) {
        this.onLine(chunk.subarray(start, end), 0);
        return;
      }
      this.cut = n - this.maxLineBytes;
      this.onLine(chunk.subarray(start, start + this.maxLineBytes), this.cut);
      this.cut = 0;
      return;
    }
    this.append(chunk, start, end);
    this.emit(this.pending.subarray(0, this.pendingLength));
  }

  private emit(bytes: Buffer): void {
    const cut = this.cut;
    this.pendingLength = 0;
    this.cut = 0;
    this.onLine(bytes, cut);
  }

  private append(chunk: Buffer, start: number, end: number): void {
    const room = this.maxLineBytes - this.pendingLength;
    const n = end - start;
    if (n <= room) {
      chunk.copy(this.pending, this.pendingLength, start, end);
      this.pendingLength += n;
      return;
    }
    if (room > 0) {
      chunk.copy(this.pending, this.pendingLength, start, start + room);
      this.pendingLength += room;
    }
    this.cut += n - room;
  }
}

// Tab stays; every other C0 control character and DEL is escaped (NUL can not be stored in PostgreSQL text, ESC
// sequences would drive the terminal of whoever reads the log).
// eslint-disable-next-line no-control-regex
const HAS_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

/** The text stored for a line: valid UTF-8, control characters escaped, the cut marker appended. */
export function lineText(bytes: Buffer, cutBytes: number): string {
  let end = bytes.length;
  if (cutBytes > 0) end = completeCharsEnd(bytes, Math.min(end, CUT_LINE_KEEP_BYTES));
  let text = bytes.toString('utf8', 0, end);
  if (HAS_CONTROL.test(text)) text = text.replace(CONTROL, escapeControl);
  const dropped = cutBytes + (bytes.length - end);
  return dropped > 0 ? `${text}${cutMarker(dropped)}` : text;
}

function escapeControl(ch: string): string {
  return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** Where to end `bytes[0, end)` so that a multi-byte character at the end is not split in two. */
function completeCharsEnd(bytes: Buffer, end: number): number {
  // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
  let i = end - 1;
  let back = 0;
  while (i >= 0 && back < 3 && (bytes[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return end;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return end - i >= need ? end : i;
}

/** A LineHandler that decodes every line into text. */
export function textLines(emit: (line: string) => void): LineHandler {
  return (bytes, cut) => emit(lineText(bytes, cut));
}

/** The last `capacity` bytes written, in a fixed buffer. */
export class ByteTail {
  private readonly ring: Buffer;
  private start = 0;
  private length = 0;
  /** Bytes written in total. */
  total = 0;

  constructor(readonly capacity: number) {
    this.ring = Buffer.alloc(capacity);
  }

  write(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.capacity === 0) return;
    const data = chunk;
    if (data.length >= this.capacity) {
      data.copy(this.ring, 0, data.length - this.capacity);
      this.start = 0;
      this.length = this.capacity;
      return;
    }
    let writeAt = (this.start + this.length) % this.capacity;
    const first = Math.min(data.length, this.capacity - writeAt);
    data.copy(this.ring, writeAt, 0, first);
    if (first < data.length) data.copy(this.ring, 0, first);
    writeAt = (writeAt + data.length) % this.capacity;
    const newLength = this.length + data.length;
    if (newLength > this.capacity) {
      this.length = this.capacity;
      this.start = writeAt;
    } else {
      this.length = newLength;
    }
  }

  /** The kept bytes, oldest first. */
  bytes(): Buffer {
    if (this.start + this.length <= this.capacity) return Buffer.from(this.ring.subarray(this.start, this.start + this.length));
    return Buffer.concat([this.ring.subarray(this.start), this.ring.subarray(0, (this.start + this.length) % this.capacity)]);
  }

  /** True when older bytes were dropped. */
  get truncated(): boolean {
    return this.total > this.length;
  }

  /** The kept bytes as text (a character split by the cut at the start becomes U+FFFD). */
  text(): string {
    return this.bytes().toString('utf8');
  }

  /**
   * The last `count` non-empty lines, each shortened to `maxChars`, control characters escaped: for error
   * messages ("exit code 3; last lines of stderr: …").
   */
  lastLines(count: number, maxChars = 500): string[] {
    const lines = this.text().split(/\r\n|\r|\n/);
    // The first line of a truncated tail is a fragment: leave it out unless it is all there is.
    if (this.truncated && lines.length > 1) lines.shift();
    const out: string[] = [];
    for (let i = lines.length - 1; i >= 0 && out.length < count; i--) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      const clean = HAS_CONTROL.test(line) ? line.replace(CONTROL, escapeControl) : line;
      out.push(clean.length > maxChars ? `${clean.slice(0, maxChars)}…` : clean);
    }
    return out.reverse();
  }
}

/** Lines of each stream logged at the end when the output's last lines were over the budget. */
export const TRAILING_LINES = 50;

export interface LogBudgetOptions {
  /** Bytes logged at full speed first (default 2 MiB). */
  burstBytes?: number;
  /** Then, on average, this many bytes per second (default 16 KiB/s). */
  bytesPerSecond?: number;
}

/**
 * How much output reaches the job's log: a program printing a gigabyte must neither flood the store nor cost the
 * worker. A token bucket (each line costs its bytes + 64): once empty, lines are counted and skipped until a
 * quarter of the bucket has refilled, so skipping comes in long runs with one note each, not a note per line.
 */
export class LogBudget {
  private readonly capacity: number;
  private readonly rate: number;
  private tokens: number;
  private refilledAt = Date.now();
  private skipping = false;
  private skippedLines = 0;
  private skippedBytes = 0;
  private totalSkippedLines = 0;
  private totalSkippedBytes = 0;
  private readonly trailing: Record<'stdout' | 'stderr', number> = { stdout: 0, stderr: 0 };

  constructor(options: LogBudgetOptions = {}) {
    this.capacity = options.burstBytes ?? 2 * 1024 * 1024;
    this.rate = options.bytesPerSecond ?? 16 * 1024;
    this.tokens = this.capacity;
  }

  /** `kept`: the bytes that would be stored (a cut line keeps 8 KiB); `total`: the line's real length. */
  admit(stream: 'stdout' | 'stderr', kept: number, total: number = kept): boolean {
    const cost = kept + 64;
    if (this.tokens < cost || this.skipping) {
      this.refill();
      if (this.skipping && this.tokens >= this.capacity / 4) this.skipping = false;
      if (this.tokens < cost) this.skipping = true;
    }
    if (this.skipping) {
      this.skippedLines++;
      this.skippedBytes += total;
      this.trailing[stream]++;
      return false;
    }
    this.tokens -= cost;
    this.trailing[stream] = 0;
    return true;
  }

  /** The note for lines skipped since the last logged line, once. */
  takeSkipNote(): string | null {
    if (this.skippedLines === 0) return null;
    const note = `[vigil] ${plural(this.skippedLines, 'line')} (${formatBytes(this.skippedBytes)}) of output not logged: over the log budget (${formatBytes(this.capacity)}, then ${formatBytes(this.rate)}/s)`;
    this.totalSkippedLines += this.skippedLines;
    this.totalSkippedBytes += this.skippedBytes;
    this.skippedLines = 0;
    this.skippedBytes = 0;
    return note;
  }

  /** At the end: a note when the output's last lines were skipped, and how many of each stream. */
  summary(): { note: string; trailing: Record<'stdout' | 'stderr', number> } | null {
    const pending = this.takeSkipNote();
    if (!pending) return null;
    const shown = (['stdout', 'stderr'] as const).filter((s) => this.trailing[s] > 0).map((s) => `${s}: ${Math.min(this.trailing[s], TRAILING_LINES)}`);
    return { note: `${pending}; ${plural(this.totalSkippedLines, 'line')} (${formatBytes(this.totalSkippedBytes)}) in all; the last lines follow (${shown.join(', ')})`, trailing: { ...this.trailing } };
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
