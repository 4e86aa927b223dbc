import { Cron } from 'croner';
import { ON_TIME_MS, type ScheduleDefinition } from './define.js';

/** Upper bound of cron steps in one decision (a pathological cron ends the walk early rather than block the loop). */
const MAX_WALK = 50_000;

/** The first tick strictly after `after` (epoch ms), or null when the cron never fires again. */
export function nextTick(s: ScheduleDefinition, after: number): number | null {
  if (s.everyMs !== null) return (Math.floor(after / s.everyMs) + 1) * s.everyMs;
  const next = new Cron(s.cron!, { timezone: s.timezone }).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

export interface TickDecision {
  /** Ticks to enqueue now, oldest first. */
  fire: number[];
  /** The new last tick handled (fired or skipped); equals the old one when nothing is due. */
  lastTickAt: number;
  nextTickAt: number | null;
}

/**
 * Pure: which ticks in (lastTickAt, now] to enqueue under the schedule's catch-up policy. Every worker computes
 * the same answer from the same stored lastTickAt; the store's compare-and-set lets exactly one of them apply it.
 */
export function decideTicks(s: ScheduleDefinition, lastTickAt: number, now: number): TickDecision {
  const due = dueTicks(s, lastTickAt, now, s.catchUp === 'all' ? s.maxCatchUp : 1);
  if (due.ticks.length === 0) return { fire: [], lastTickAt, nextTickAt: nextTick(s, lastTickAt) };
  const latest = due.ticks[due.ticks.length - 1]!;
  let fire: number[];
  if (s.catchUp === 'all') fire = due.ticks.slice(-s.maxCatchUp);
  else if (s.catchUp === 'latest') fire = [latest];
  else fire = now - latest <= ON_TIME_MS ? [latest] : [];
  return { fire, lastTickAt: latest, nextTickAt: nextTick(s, latest) };
}

/**
 * The last `keep` ticks in (after, now], oldest first. `every` jumps straight there; a cron walks, and after a
 * bounded number of steps jumps ahead by whole periods, so a per-second cron that missed a month costs a few
 * hundred steps, not millions, on the supervisor's loop.
 */
function dueTicks(s: ScheduleDefinition, after: number, now: number, keep: number): { ticks: number[] } {
  const ticks: number[] = [];
  if (s.everyMs !== null) {
    const first = Math.floor(after / s.everyMs) + 1;
    const last = Math.floor(now / s.everyMs);
    for (let k = Math.max(first, last - keep + 1); k <= last; k++) ticks.push(k * s.everyMs);
    return { ticks };
  }
  const cron = new Cron(s.cron!, { timezone: s.timezone });
  const jumpEvery = 2 * keep + 16;
  let t = after;
  let longest = 0;
  for (let walked = 1; walked <= MAX_WALK; walked++) {
    const next = cron.nextRun(new Date(t));
    if (!next || next.getTime() > now) break;
    if (walked > 1) longest = Math.max(longest, next.getTime() - t);
    t = next.getTime();
    ticks.push(t);
    if (ticks.length > keep) ticks.shift();
    // Jump by the longest gap seen (a weekday cron's weekend), so the last `keep` ticks still lie ahead; what was
    // collected before the jump is not contiguous with what follows: drop it.
    const target = now - longest * (keep + 2);
    if (walked % jumpEvery === 0 && longest > 0 && target > t) {
      t = target;
      ticks.length = 0;
    }
  }
  return { ticks };
}
