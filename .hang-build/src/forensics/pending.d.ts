/**
 * What an idle thread is waiting for: a thread that awaits forever has an empty JS stack, so the only evidence of
 * where it hangs is the set of async resources its event loop still holds (the socket it reads, the timer it awaits,
 * the child it waits on).
 */
export interface PendingResource {
    type: string;
    description: string;
}
/**
 * Runs inside the stuck thread (or process). Must stay self-contained — no imports, no module-level references —
 * because forensics also ships its source into a paused thread through the inspector (`pendingResourcesExpression`).
 */
export declare function collectPendingResources(): PendingResource[];
/**
 * A JS expression that evaluates to collectPendingResources() in another isolate (inspector Runtime.evaluate). The
 * `__name` shim covers builds (tsx/esbuild keepNames) that wrap inner functions in a helper that is absent there.
 */
export declare function pendingResourcesExpression(): string;
