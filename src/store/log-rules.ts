/** Log limits both stores apply, so one runaway task can not bloat either store. */

/** A log line longer than this (UTF-8 bytes) is cut, so one runaway line can not bloat the store. */
export const MAX_LOG_LINE_BYTES = 8 * 1024;
/** Each job keeps at most about this many of its latest log lines; older ones are deleted in chunks. */
export const LOG_RETENTION_LINES = 10_000;
/** Retention runs when a job's seq crosses a multiple of this: one cheap indexed delete per chunk, not per insert. */
export const LOG_RETENTION_CHUNK = 1_000;

/**
 * Cuts a line to MAX_LOG_LINE_BYTES of UTF-8, marker included, on a character boundary:
 * `<start of the line>…[cut N bytes]`, N being the bytes removed.
 */
export function cutLogLine(line: string): string {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes <= MAX_LOG_LINE_BYTES) return line;
  const buf = Buffer.from(line, 'utf8');
  // The marker's own length depends on N; 40 bytes is ample for "…[cut 123456789 bytes]".
  let keep = MAX_LOG_LINE_BYTES - 40;
  // Never split a multi-byte character: back off continuation bytes (10xxxxxx).
  while (keep > 0 && (buf[keep]! & 0xc0) === 0x80) keep--;
  return `${buf.subarray(0, keep).toString('utf8')}…[cut ${bytes - keep} bytes]`;
}
