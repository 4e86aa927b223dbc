import { UsageError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
/** One or more "<number><unit>" parts, largest unit first: "250ms", "90s", "1h30m", "1d12h", "1.5h", "2w". */
const PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

export type Duration = string | number;

/** How every duration message spells the accepted forms. */
export const DURATION_FORMS = '"250ms", "30s", "5m", "1h", "1d", "2w", compound forms like "1h30m", or milliseconds';

/**
 * Parses "250ms" | "30s" | "5m" | "1h" or a number of milliseconds. Throws a UsageError naming `what` otherwise,
 * so a typo in a timeout fails when the task is defined, not when the first job hangs.
 */
export function parseDuration(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new UsageError('VIGIL_INVALID_DURATION', `${what}: ${value} is not a valid duration (use milliseconds ≥ 0 or "30s")`);
    }
    return value;
  }
  if (typeof value === 'string') {
    if (/^\s*\d+\s*$/.test(value)) return Number(value);
    const compact = value.replace(/\s+/g, '');
    if (PATTERN.test(compact)) {
      let total = 0;
      let previous = Infinity;
      let ordered = true;
      for (const [, amount, unit] of compact.matchAll(PART)) {
        const size = UNITS[unit!]!;
        if (size >= previous) ordered = false;
        previous = size;
        total += Number(amount) * size;
      }
      if (ordered) return Math.round(total);
    }
  }
  throw new UsageError('VIGIL_INVALID_DURATION', `${what}: ${JSON.stringify(value)} is not a valid duration (use ${DURATION_FORMS})`);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${oneDecimal(ms / 1000)}s`;
  if (ms < 3_600_000) return `${oneDecimal(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${oneDecimal(ms / 3_600_000)}h`;
  return `${oneDecimal(ms / 86_400_000)}d`;
}

/** "1.5", and "2" rather than "2.0": a whole number of units reads as one. */
function oneDecimal(n: number): string {
  const fixed = n.toFixed(1);
  return fixed.endsWith('.0') ? fixed.slice(0, -2) : fixed;
}
