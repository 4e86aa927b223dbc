// nextState() (src/store/next-state.ts) as a table: every combination of outcome kind × retries left × deadline ×
// cancel requested × charged, with an injected clock and jitter, so nothing here sleeps. The same outcomes run end
// to end through both stores in test/store-contract.test.ts ("every outcome…").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttemptFinish } from '../src/store/contract.js';
import { expiredInQueue, nextState, type JobFacts } from '../src/store/next-state.js';
import type { ErrorKind, RetryPolicy, SerializedError } from '../src/types.js';

const NOW = 1_700_000_000_000;
const POLICY: RetryPolicy = { maxAttempts: 3, backoffMs: 1_000, factor: 2, maxDelayMs: 60_000, jitter: 0 };

type Outcome = 'succeeded' | ErrorKind | 'error(retryable:false)';
const OUTCOMES: Outcome[] = ['succeeded', 'error', 'timeout', 'stalled', 'crashed', 'oom', 'cancelled', 'deadline', 'children', 'error(retryable:false)'];
const RETRIES = { left: 0, lastOne: 2 } as const; // charged attempts before this one, with maxAttempts 3
type Deadline = 'none' | 'far' | 'wouldPassBeforeRetry' | 'passed';
const DEADLINES: Record<Deadline, number | null> = {
  none: null,
  far: NOW + 3_600_000,
  // After now, before the charged retry (1 s or 2 s away), after an uncharged one (at once).
  wouldPassBeforeRetry: NOW + 500,
  passed: NOW - 1,
};

function finishOf(o: Outcome, charged: boolean): AttemptFinish {
  if (o === 'succeeded') return { outcome: 'succeeded', result: { ok: 1 } };
  const kind: ErrorKind = o === 'error(retryable:false)' ? 'error' : o;
  const error: SerializedError = { kind, message: `it ended ${o}` };
  if (o === 'error(retryable:false)') error.retryable = false;
  return { outcome: kind, error, charged, hangReport: null };
}

/** The rules of next-state.ts, restated as a priority table (first match wins), independent of its code. */
function expected(o: Outcome, chargedBefore: number, deadlineAt: number | null, cancelRequested: boolean, charged: boolean) {
  if (o === 'succeeded') return { state: 'succeeded', errorKind: null, charged: true, chargedAttempts: chargedBefore + 1, runAt: null };
  const after = chargedBefore + (charged ? 1 : 0);
  if (o === 'cancelled') return { state: 'cancelled', errorKind: 'cancelled', charged, chargedAttempts: after, runAt: null };
  if (cancelRequested) return { state: 'cancelled', errorKind: 'cancelled', charged, chargedAttempts: after, runAt: null };
  const retryable = ['error', 'timeout', 'stalled', 'crashed', 'oom'].includes(o);
  const budgetLeft = !charged || after < POLICY.maxAttempts;
  if (!retryable || !budgetLeft) return { state: 'failed', errorKind: o === 'error(retryable:false)' ? 'error' : o, charged, chargedAttempts: after, runAt: null };
  const runAt = NOW + (charged ? POLICY.backoffMs * POLICY.factor ** (after - 1) : 0);
  if (deadlineAt !== null && runAt >= deadlineAt) return { state: 'failed', errorKind: 'deadline', charged, chargedAttempts: after, runAt: null };
  return { state: 'queued', errorKind: o, charged, chargedAttempts: after, runAt };
}

describe('nextState: one decision for every combination', () => {
  let cases = 0;
  for (const o of OUTCOMES) {
    for (const [retries, chargedBefore] of Object.entries(RETRIES)) {
      for (const [deadline, deadlineAt] of Object.entries(DEADLINES)) {
        for (const cancelRequested of [false, true]) {
          for (const charged of [true, false]) {
            cases++;
            const name = `${o} · ${retries} · deadline ${deadline} · ${cancelRequested ? 'cancel requested' : 'no cancel'} · ${charged ? 'charged' : 'uncharged'}`;
            it(name, () => {
              const job: JobFacts = { chargedAttempts: chargedBefore, deadlineAt, cancelRequested, cancelReason: cancelRequested ? 'user asked' : null };
              const finish = finishOf(o, charged);
              const got = nextState(job, finish, POLICY, NOW, () => 0.5);
              const want = expected(o, chargedBefore, deadlineAt, cancelRequested, charged);
              assert.equal(got.state, want.state);
              assert.equal(got.error?.kind ?? null, want.errorKind);
              assert.equal(got.charged, want.charged);
              assert.equal(got.chargedAttempts, want.chargedAttempts);
              assert.equal(got.runAt, want.runAt);
              assert.deepEqual(got.result, o === 'succeeded' ? { ok: 1 } : null);
              if (finish.outcome !== 'succeeded' && got.error && got.error !== finish.error) {
                assert.deepEqual(got.error.cause, finish.error, 'a decision that replaces the error keeps the attempt\'s error as cause');
              }
              if (got.state === 'cancelled' && o !== 'cancelled') assert.equal(got.error?.message, 'user asked');
            });
          }
        }
      }
    }
  }
  it('covers the whole grid', () => assert.equal(cases, OUTCOMES.length * 2 * 4 * 2 * 2));
});

describe('nextState: the rows that matter, spelled out', () => {
  const fresh: JobFacts = { chargedAttempts: 0, deadlineAt: null, cancelRequested: false, cancelReason: null };
  const timeout = finishOf('timeout', true);

  it('retry delays grow with the charged attempts and use the STORED policy, capped and jittered', () => {
    const policy: RetryPolicy = { maxAttempts: 10, backoffMs: 1_000, factor: 3, maxDelayMs: 5_000, jitter: 0.5 };
    assert.equal(nextState(fresh, timeout, policy, NOW, () => 0).runAt, NOW + 1_000);
    assert.equal(nextState({ ...fresh, chargedAttempts: 1 }, timeout, policy, NOW, () => 0).runAt, NOW + 3_000);
    assert.equal(nextState({ ...fresh, chargedAttempts: 2 }, timeout, policy, NOW, () => 0).runAt, NOW + 5_000, 'capped at maxDelay');
    assert.equal(nextState({ ...fresh, chargedAttempts: 2 }, timeout, policy, NOW, () => 1).runAt, NOW + 2_500, 'jitter shortens by up to half');
    // The same row with another policy gives another answer: the policy is an input, never the worker's own copy.
    assert.equal(nextState(fresh, timeout, { ...policy, maxAttempts: 1 }, NOW).state, 'failed');
  });

  it('an uncharged attempt is retried at once even with the budget spent, and costs nothing', () => {
    const got = nextState({ ...fresh, chargedAttempts: 3 }, finishOf('crashed', false), POLICY, NOW);
    assert.deepEqual([got.state, got.runAt, got.chargedAttempts, got.charged], ['queued', NOW, 3, false]);
  });

  it('a retry the deadline would overtake fails the job with kind deadline and the attempt error as cause', () => {
    const got = nextState({ ...fresh, deadlineAt: NOW + 500 }, timeout, POLICY, NOW);
    assert.equal(got.state, 'failed');
    assert.equal(got.error?.kind, 'deadline');
    assert.equal(got.error?.retryable, false);
    assert.deepEqual(got.error?.cause, (timeout as { error: SerializedError }).error);
    assert.match(got.error!.message, /passes before its next attempt could run; the last attempt ended with timeout/);
  });

  it('a retry exactly at the deadline is too late (runAt ≥ deadlineAt)', () => {
    assert.equal(nextState({ ...fresh, deadlineAt: NOW + 1_000 }, timeout, POLICY, NOW).state, 'failed');
    assert.equal(nextState({ ...fresh, deadlineAt: NOW + 1_001 }, timeout, POLICY, NOW).state, 'queued');
  });

  it('a requested cancel wins over a retry, over the deadline and over a final failure, never over a success', () => {
    const cancel = { ...fresh, cancelRequested: true, cancelReason: 'stop it' };
    for (const f of [timeout, finishOf('error(retryable:false)', true), finishOf('crashed', false)]) {
      const got = nextState({ ...cancel, deadlineAt: NOW - 1 }, f, POLICY, NOW);
      assert.equal(got.state, 'cancelled');
      assert.equal(got.error?.message, 'stop it');
    }
    assert.equal(nextState(cancel, finishOf('succeeded', true), POLICY, NOW).state, 'succeeded');
  });

  it('a queued job past its deadline fails with kind deadline and says by how much', () => {
    const got = expiredInQueue(NOW - 250, NOW);
    assert.equal(got.state, 'failed');
    assert.equal(got.error.kind, 'deadline');
    assert.match(got.error.message, /passed 250 ms before a worker could start it/);
  });
});

describe('nextState: a success is decided without the row', () => {
  it('gives the same decision for every row and policy (both stores write a success in one statement on that basis)', () => {
    const finish: AttemptFinish = { outcome: 'succeeded', result: { r: 1 } };
    const rows: JobFacts[] = [
      { chargedAttempts: 0, deadlineAt: null, cancelRequested: false, cancelReason: null },
      { chargedAttempts: 4, deadlineAt: 1, cancelRequested: true, cancelReason: 'stop' },
      { chargedAttempts: 2, deadlineAt: 10_000_000, cancelRequested: false, cancelReason: null },
    ];
    const policies: RetryPolicy[] = [
      { maxAttempts: 3, backoffMs: 100, factor: 2, maxDelayMs: 1000, jitter: 0 },
      { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 1 },
    ];
    for (const row of rows) {
      for (const policy of policies) {
        for (const now of [0, 5_000, 20_000_000]) {
          assert.deepEqual(nextState(row, finish, policy, now, () => 0.5), {
            state: 'succeeded', runAt: null, result: { r: 1 }, error: null, charged: true, chargedAttempts: row.chargedAttempts + 1,
          });
        }
      }
    }
  });
});
