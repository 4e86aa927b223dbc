import type { Store } from '../store/contract.js';
import type { AutoTimeout } from '../task/define.js';
import { formatDuration } from '../task/duration.js';

/**
 * Adaptive timeouts (`timeout: { auto: true, min, max }`): a task's timeout learned from how long its recent
 * succeeded attempts took, so users stop guessing a number that is either too short (false timeouts) or useless
 * (a 30-minute bound on a 100 ms job lets a hang burn 30 minutes).
 */

export interface LearnedTimeout {
  ms: number;
  /** Succeeded runs the value was learned from (0: not enough yet, `max` is used). */
  runs: number;
  p99Ms: number | null;
  /** In words, for error messages and `inspect`: "learned from 240 runs (p99 4s × 3)". */
  note: string;
}

/** Succeeded jobs read per learning (the most recent ones). */
const SAMPLE = 200;

/** Pure: the timeout for these durations (ms) under the rule. */
export function learnTimeout(durations: number[], auto: AutoTimeout): LearnedTimeout {
  const bounds = `bounds ${formatDuration(auto.minMs)}..${formatDuration(auto.maxMs)}`;
  if (durations.length < auto.after) {
    return { ms: auto.maxMs, runs: 0, p99Ms: null, note: `the maximum: only ${durations.length} of the ${auto.after} succeeded runs needed to learn it (${bounds})` };
  }
  const sorted = [...durations].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
  const ms = Math.round(Math.min(auto.maxMs, Math.max(auto.minMs, p99 * auto.factor)));
  return { ms, runs: sorted.length, p99Ms: p99, note: `learned from ${sorted.length} succeeded runs (p99 ${formatDuration(p99)} × ${auto.factor}, ${bounds})` };
}

/** Per worker: learns from the store, re-reading a task's history at most every `refreshMs` once it has learned. */
export class TimeoutLearner {
  private readonly cache = new Map<string, { at: number; value: LearnedTimeout }>();
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    private readonly refreshMs = 30_000,
  ) {}

  async timeoutFor(task: string, auto: AutoTimeout): Promise<LearnedTimeout> {
    const hit = this.cache.get(task);
    if (hit && this.now() - hit.at < this.refreshMs) return hit.value;
    const jobs = await this.store.list({ state: 'succeeded', task, limit: SAMPLE });
    const durations = jobs.flatMap((j) => (j.startedAt !== null && j.finishedAt !== null ? [j.finishedAt - j.startedAt] : []));
    const value = learnTimeout(durations, auto);
    // Until it has learned, every run asks again: the N-th success must count for the next run.
    if (value.runs > 0) this.cache.set(task, { at: this.now(), value });
    return value;
  }
}
