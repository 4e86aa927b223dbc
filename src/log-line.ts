/**
 * The one limit on a log line, and the one way a line is cut, for everything that makes or stores log lines (the
 * executors' line splitters, ctx.log, both stores): one runaway line must bloat neither a worker's memory nor the
 * store, and a line cut by an executor must not be cut again, with a second marker, by the store.
 */

/** A log line is at most this many bytes of UTF-8, cut marker included. */
export const MAX_LOG_LINE_BYTES = 8 * 1024;
/** Kept free for the marker: "…[cut 123456789012 bytes]" is 27 bytes. */
const MARKER_ROOM = 40;
/** Bytes of a cut line's start that are kept. */
export const CUT_LINE_KEEP_BYTES = MAX_LOG_LINE_BYTES - MARKER_ROOM;

/** What replaces the end of a cut line. */
export function cutMarker(droppedBytes: number): string {
  return `…[cut ${droppedBytes} bytes]`;
}

/** Where to cut `bytes` at or before `end` so that a multi-byte character is not split in two. */
export function utf8Boundary(bytes: Uint8Array, end: number): number {
  if (end >= bytes.length) return bytes.length;
  let i = end;
  // Back off continuation bytes (10xxxxxx): the cut goes before the lead byte of a split character.
  while (i > 0 && (bytes[i]! & 0xc0) === 0x80) i--;
  return i;
}

/** `line` when it fits MAX_LOG_LINE_BYTES, else `<start of the line>…[cut N bytes]`, N being the bytes removed. */
export function cutLogLine(line: string): string {
  // Most lines are short: a UTF-16 length this small can not exceed the limit in UTF-8.
  if (line.length * 3 <= MAX_LOG_LINE_BYTES) return line;
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes <= MAX_LOG_LINE_BYTES) return line;
  const buf = Buffer.from(line, 'utf8');
  const keep = utf8Boundary(buf, CUT_LINE_KEEP_BYTES);
  return `${buf.subarray(0, keep).toString('utf8')}${cutMarker(bytes - keep)}`;
}
