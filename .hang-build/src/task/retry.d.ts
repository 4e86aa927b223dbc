import type { RetryPolicy } from '../types.js';
/**
 * Delay before the next attempt once `chargedAttempts` attempts have failed: exponential, capped, and with jitter
 * (the delay is shortened by up to `jitter` of itself) so a crowd of jobs that failed together — a dependency
 * went down — does not come back together.
 */
export declare function retryDelayMs(policy: RetryPolicy, chargedAttempts: number, random?: () => number): number;
