import { checkChildInput } from './limits.js';
import type { Store } from '../store/contract.js';
import { requireTask, type TaskMap } from '../task/registry.js';
import type { AllRequest, SpawnRequest, SpawnedChild } from '../executors/types.js';
import type { ChildOutcome, ChildPolicy, Job, SerializedError } from '../types.js';
import { isTerminal, waitForJobs, type WaitOptions } from './waiter.js';
import { untilStored } from './store-retry.js';
import { systemClock } from '../clock.js';

/**
 * Creates a parent's children as durable jobs in one batched write. A re-run parent gets the same children back
 * (unique (parent, key)); children that failed for good are put back in the queue for the new parent attempt,
 * children that succeeded are never run again.
 */
/** The reason failFast gives the siblings it cancels (an engine decision, not a user's: no hang report is taken). */
export const FAILFAST_CANCEL_REASON = 'a sibling failed under the failFast policy';

export async function spawnChildren(
  store: Store,
  tasks: TaskMap,
  parent: { jobId: string; attempt: number; deadlineAt?: number | null; storeNow?: number },
  requests: SpawnRequest[],
): Promise<SpawnedChild[]> {
  // One deadline bounds a whole tree: a child's is the earlier of its own and its parent's (issue #14).
  const inherited = parent.deadlineAt != null && parent.storeNow !== undefined ? Math.max(1, parent.deadlineAt - parent.storeNow) : null;
  const jobs = requests.map((r) => {
    const def = requireTask(tasks, r.task);
    checkChildInput(r.task, r.input);
    const own = def.options.deadlineMs;
    return {
      task: r.task,
      input: r.input,
      retry: def.options.retry,
      deadlineMs: own === null ? inherited : inherited === null ? own : Math.min(own, inherited),
      parentId: parent.jobId,
      childKey: r.key,
    };
  });
  const results = await store.enqueue(jobs);
  if (parent.attempt > 1) {
    for (const { job, created } of results) {
      // A child that failed for good because it said so (non-retryable) or was cancelled stays as it is: running
      // it again would contradict its own verdict. Children that ran out of retries get a fresh chance.
      if (!created && job.state === 'failed' && job.error?.retryable !== false && job.error?.kind !== 'children') {
        await store.retry(job.id);
      }
    }
  }
  return results.map(({ job }, i) => ({ key: requests[i]!.key, jobId: job.id }));
}

export class ChildPolicyFailure extends Error {
  constructor(readonly serialized: SerializedError) {
    super(serialized.message);
  }
}

/**
 * Waits until the policy is decided. Resolves with every outcome in input order, or rejects with a
 * ChildPolicyFailure (kind `children`) that names the failed children. Nothing is dropped: there is no policy
 * that turns a failure into an empty value.
 */
export async function awaitChildren(
  store: Store,
  request: AllRequest,
  options: WaitOptions & { signal: AbortSignal },
): Promise<ChildOutcome[]> {
  const ids = request.children.map((c) => c.jobId);
  const keyOf = new Map(request.children.map((c) => [c.jobId, c.key]));
  const policy = request.policy;
  const decision = await waitForJobs(
    store,
    ids,
    (jobs): { outcomes: ChildOutcome[] } | { fail: Job[]; pending: Job[] } | undefined => {
      const failed = jobs.filter((j) => j.state === 'failed' || j.state === 'cancelled');
      if (policy === 'failFast' && failed.length > 0) {
        return { fail: failed, pending: jobs.filter((j) => !isTerminal(j)) };
      }
      if (!jobs.every(isTerminal)) return undefined;
      const byId = new Map(jobs.map((j) => [j.id, j]));
      const outcomes = ids.map((id) => toOutcome(byId.get(id), id, keyOf.get(id)!));
      if (typeof policy === 'object') {
        const share = outcomes.filter((o) => o.status === 'succeeded').length / Math.max(1, outcomes.length);
        if (share < policy.minSuccess) return { fail: failed, pending: [] };
      }
      return { outcomes };
    },
    options,
  );
  if ('outcomes' in decision) return decision.outcomes;
  if (decision.pending.length) {
    const cancel = () => store.cancel(decision.pending.map((j) => j.id), FAILFAST_CANCEL_REASON);
    if (options.onStoreError) {
      await untilStored(cancel, { clock: options.clock ?? systemClock, retry: options.retry ?? { firstMs: 100, maxMs: 5_000 }, signal: options.signal, onError: options.onStoreError });
    } else {
      await cancel();
    }
  }
  throw new ChildPolicyFailure(policyError(policy, decision.fail, ids.length, keyOf));
}

function toOutcome(job: Job | undefined, jobId: string, key: string): ChildOutcome {
  if (!job) return { key, jobId, status: 'failed', kind: 'crashed', message: `child job ${jobId} is missing from the store`, attempts: 0 };
  if (job.state === 'succeeded') return { key, jobId, status: 'succeeded', value: job.result };
  return {
    key,
    jobId,
    status: 'failed',
    kind: job.error?.kind ?? (job.state === 'cancelled' ? 'cancelled' : 'error'),
    message: job.error?.message ?? `child ended ${job.state}`,
    attempts: job.attempts,
  };
}

function policyError(policy: ChildPolicy, failed: Job[], total: number, keyOf: Map<string, string>): SerializedError {
  const described = failed.slice(0, 10).map((j) => `child ${j.id} (key ${keyOf.get(j.id)}, task ${j.task}): ${j.error?.kind ?? j.state}: ${j.error?.message ?? ''}`);
  const more = failed.length > 10 ? `; and ${failed.length - 10} more` : '';
  const head =
    policy === 'failFast'
      ? `failFast: a child failed for good, the siblings still running were cancelled`
      : typeof policy === 'object'
        ? `minSuccess ${policy.minSuccess}: only ${total - failed.length} of ${total} children succeeded`
        : `children failed`;
  return {
    kind: 'children',
    name: 'ChildrenFailedError',
    code: 'VIGIL_CHILDREN_FAILED',
    message: `${head}: ${described.join('; ')}${more}`,
    retryable: false,
    details: {
      failed: failed.map((j) => ({ jobId: j.id, key: keyOf.get(j.id) ?? '', kind: j.error?.kind ?? j.state, message: j.error?.message ?? '' })),
    },
  };
}
