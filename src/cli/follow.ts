import type { LogLine } from '../types.js';
import type { Vigil } from '../vigil.js';
import { stderrLine } from './progress.js';

const POLL_MS = 250;
const PAGE = 1000;

/** The line `vigil logs` prints before the first line of each attempt, so three retries do not read as duplicates. */
export function attemptMarker(jobId: string, attempt: number): string {
  return `--- job ${jobId}, attempt ${attempt} ---`;
}

/**
 * Streams a job's output to stderr (stdout stays the final job, clean data) while `work` is pending, then prints
 * what was written before it settled. The store is where output is visible from any process, so this polls it.
 */
export async function streamLogs<T>(vigil: Vigil, jobId: string, work: Promise<T>, write: (line: string) => void = stderrLine): Promise<T> {
  let afterSeq = 0;
  let attempt = 0;
  const drain = async (): Promise<void> => {
    for (;;) {
      const lines: LogLine[] = await vigil.logs(jobId, { afterSeq, limit: PAGE });
      for (const l of lines) {
        if (l.attempt !== attempt) {
          attempt = l.attempt;
          write(attemptMarker(jobId, attempt));
        }
        write(`${l.stream === 'stdout' ? '' : `${l.stream}: `}${l.line}`);
      }
      if (lines.length > 0) afterSeq = lines[lines.length - 1]!.seq;
      if (lines.length < PAGE) return;
    }
  };
  let settled = false;
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!settled) {
      await drain().catch(() => undefined);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  try {
    return await work;
  } finally {
    settled = true;
    (wake as (() => void) | null)?.();
    await loop;
    // Lines are written before the attempt ends, so they are all in the store once the job reads terminal.
    await drain().catch(() => undefined);
  }
}
