export type Duration = string | number;
/**
 * Parses "250ms" | "30s" | "5m" | "1h" or a number of milliseconds. Throws a UsageError naming `what` otherwise,
 * so a typo in a timeout fails when the task is defined, not when the first job hangs.
 */
export declare function parseDuration(value: Duration, what?: string): number;
export declare function formatDuration(ms: number): string;
