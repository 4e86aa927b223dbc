import { Cron } from 'croner';
import { ON_TIME_MS, type ScheduleDefinition } from './define.js';

/** Upper bound of ticks walked in one decision, so a cron that missed a year of seconds never loops for long. */
const MAX_WALK = 10_000;

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
  const due = dueTicks(s, lastTickAt, now);
  if (due.ticks.length === 0) return { fire: [], lastTickAt, nextTickAt: nextTick(s, lastTickAt) };
  const latest = due.ticks[due.ticks.length - 1]!;
  let fire: number[];
  if (s.catchUp === 'all') fire = due.ticks.slice(-s.maxCatchUp);
  else if (s.catchUp === 'latest') fire = [latest];
  else fire = now - latest <= ON_TIME_MS ? [latest] : [];
  return { fire, lastTickAt: latest, nextTickAt: nextTick(s, latest) };
}

/** Ticks in (after, now], at most the last MAX_WALK of them (`every` jumps straight there). */
function dueTicks(s: ScheduleDefinition, after: number, now: number): { ticks: number[] } {
  const ticks: number[] = [];
  if (s.everyMs !== null) {
    const first = Math.floor(after / s.everyMs) + 1;
    const last = Math.floor(now / s.everyMs);
    for (let k = Math.max(first, last - MAX_WALK + 1); k <= last; k++) ticks.push(k * s.everyMs);
    return { ticks };
  }
  const cron = new Cron(s.cron!, { timezone: s.timezone });
  let t = after;
  for (let walked = 1; ; walked++) {
    const next = cron.nextRun(new Date(t));
    if (!next || next.getTime() > now) break;
    const prev = t;
    t = next.getTime();
    ticks.push(t);
    if (ticks.length > MAX_WALK) ticks.shift();
    // Long gap of a frequent cron: jump ahead to the last MAX_WALK periods instead of walking every tick.
    if (walked === MAX_WALK * 2) t = Math.max(t, now - (t - prev) * (MAX_WALK + 1));
  }
  return { ticks };
}
