/**
 * Delay before the next attempt once `chargedAttempts` attempts have failed: exponential, capped, and with jitter
 * (the delay is shortened by up to `jitter` of itself) so a crowd of jobs that failed together — a dependency
 * went down — does not come back together.
 */
export function retryDelayMs(policy, chargedAttempts, random = Math.random) {
    const exp = policy.backoffMs * Math.pow(policy.factor, Math.max(0, chargedAttempts - 1));
    const capped = Math.min(policy.maxDelayMs, exp);
    return Math.max(0, Math.round(capped * (1 - policy.jitter * random())));
}
//# sourceMappingURL=retry.js.map