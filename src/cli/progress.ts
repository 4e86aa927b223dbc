import cliProgress from 'cli-progress';
import type { Vigil } from '../vigil.js';

const POLL_MS = 200;

/**
 * Shows a progress bar for a job while `work` is pending, fed by polling `job.progress` (the store is the one place
 * progress is visible from any process). Only when stdout is a terminal: piped output stays clean data. The bar
 * goes to stderr and is cleared before the caller prints the result.
 */
export async function withProgressBar<T>(vigil: Vigil, jobId: string, work: Promise<T>, enabled = process.stdout.isTTY === true): Promise<T> {
  if (!enabled) return work;
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {percentage}% | {state} {message}',
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      stream: process.stderr,
      // Render even when only stdout is a terminal; the caller decided.
      noTTYOutput: true,
      notTTYSchedule: 1000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { state: 'queued', message: '' });
  let stopped = false;
  const poll = async (): Promise<void> => {
    while (!stopped) {
      try {
        const job = await vigil.get(jobId);
        const p = job.progress;
        const pct = p?.fraction != null ? p.fraction * 100 : p?.done !== undefined && p.total ? (p.done / p.total) * 100 : undefined;
        const count = p?.done !== undefined && p.total !== undefined ? `${p.done}/${p.total} ` : '';
        bar.update(pct === undefined ? bar.getProgress() * 100 : Math.max(0, Math.min(100, pct)), { state: job.state, message: `${count}${p?.message ?? ''}` });
      } catch {
        // A poll that fails only leaves the bar stale; the wait itself reports real errors.
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const polling = poll();
  try {
    return await work;
  } finally {
    stopped = true;
    await polling;
    bar.stop();
  }
}
