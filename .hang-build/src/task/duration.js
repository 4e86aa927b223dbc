import { UsageError } from '../errors.js';
const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/;
/**
 * Parses "250ms" | "30s" | "5m" | "1h" or a number of milliseconds. Throws a UsageError naming `what` otherwise,
 * so a typo in a timeout fails when the task is defined, not when the first job hangs.
 */
export function parseDuration(value, what = 'duration') {
    if (typeof value === 'number') {
        if (!Number.isFinite(value) || value < 0) {
            throw new UsageError('VIGIL_INVALID_DURATION', `${what}: ${value} is not a valid duration (use milliseconds ≥ 0 or "30s")`);
        }
        return value;
    }
    if (typeof value === 'string') {
        if (/^\s*\d+\s*$/.test(value))
            return Number(value);
        const m = PATTERN.exec(value);
        if (m)
            return Math.round(Number(m[1]) * UNITS[m[2]]);
    }
    throw new UsageError('VIGIL_INVALID_DURATION', `${what}: ${JSON.stringify(value)} is not a valid duration (use "250ms", "30s", "5m", "1h" or milliseconds)`);
}
export function formatDuration(ms) {
    if (ms < 1000)
        return `${Math.round(ms)}ms`;
    if (ms < 60_000)
        return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;
    if (ms < 3_600_000)
        return `${(ms / 60_000).toFixed(1)}m`;
    return `${(ms / 3_600_000).toFixed(1)}h`;
}
//# sourceMappingURL=duration.js.map