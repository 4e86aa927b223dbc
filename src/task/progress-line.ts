import type { Progress } from '../types.js';

/**
 * The progress channel of command tasks: a program prints a line `::progress 0.4 decoding` (a fraction 0..1) or
 * `::progress 3/10 chunk 3` (done/total), on stdout or stderr, and the job's progress is set as if the task had
 * called ctx.progress. Any other line is output. Python: `print(f"::progress {i}/{n}", flush=True)`.
 */
const LINE = /^::progress\s+(?:(\d+(?:\.\d+)?)|(\d+)\s*\/\s*(\d+))(?:\s+(.*\S))?\s*$/;

export function parseProgressLine(line: string): Progress | null {
  if (!line.startsWith('::progress')) return null;
  const m = LINE.exec(line);
  if (!m) return null;
  const message = m[4] ? m[4].slice(0, 500) : undefined;
  if (m[1] !== undefined) {
    const fraction = Number(m[1]);
    if (fraction > 1) return null;
    return message === undefined ? { fraction } : { fraction, message };
  }
  const done = Number(m[2]);
  const total = Number(m[3]);
  if (total <= 0 || done > total) return null;
  const progress: Progress = { fraction: done / total, done, total };
  if (message !== undefined) progress.message = message;
  return progress;
}
