import type { Store } from '../store/contract.js';
import { type TaskMap } from '../task/registry.js';
import type { AllRequest, SpawnRequest, SpawnedChild } from '../executors/types.js';
import type { ChildOutcome, SerializedError } from '../types.js';
/**
 * Creates a parent's children as durable jobs in one batched write. A re-run parent gets the same children back
 * (unique (parent, key)); children that failed for good are put back in the queue for the new parent attempt,
 * children that succeeded are never run again.
 */
export declare function spawnChildren(store: Store, tasks: TaskMap, parent: {
    jobId: string;
    attempt: number;
}, requests: SpawnRequest[]): Promise<SpawnedChild[]>;
export declare class ChildPolicyFailure extends Error {
    readonly serialized: SerializedError;
    constructor(serialized: SerializedError);
}
/**
 * Waits until the policy is decided. Resolves with every outcome in input order, or rejects with a
 * ChildPolicyFailure (kind `children`) that names the failed children. Nothing is dropped: there is no policy
 * that turns a failure into an empty value.
 */
export declare function awaitChildren(store: Store, request: AllRequest, options: {
    signal: AbortSignal;
    pollMs?: number;
}): Promise<ChildOutcome[]>;
