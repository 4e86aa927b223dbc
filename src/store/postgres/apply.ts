import type { Job, RetryPolicy } from '../../types.js';
import type { AttemptFinish } from '../contract.js';
import type { JobFacts, NextState } from '../next-state.js';
import { numOrNull } from '../rows.js';
import type { Query, Row } from './db.js';
import { json, jobColumns, jsonValue, toJob } from './rows.js';

/** The columns nextState() reads, selected FOR UPDATE together with the database clock. */
export const DECISION_COLUMNS = (S: string): string =>
  `id::text AS id, attempts, charged_attempts, deadline_at, cancel_requested, cancel_reason, retry, lease_owner,
   lease_expires_at, ${S}.now_ms() AS now`;

export interface DecisionRow extends Row {
  id: string;
  attempts: number;
  charged_attempts: number;
  deadline_at: string | null;
  cancel_requested: boolean;
  cancel_reason: string | null;
  retry: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  now: string;
}

export function decisionFacts(r: DecisionRow): JobFacts {
  return { chargedAttempts: r.charged_attempts, deadlineAt: numOrNull(r.deadline_at), cancelRequested: r.cancel_requested, cancelReason: r.cancel_reason };
}

export function decisionPolicy(r: DecisionRow): RetryPolicy {
  return JSON.parse(r.retry) as RetryPolicy;
}

export interface Decision {
  jobId: string;
  attempt: number;
  finish: AttemptFinish;
  next: NextState;
}

/**
 * Writes decisions made on rows this transaction locked, all in one statement: each job takes its next state, each
 * attempt its own outcome. Guarded by the attempt that was decided on (state `running`, same attempt number), so a
 * decision can only ever move that attempt. `now` is the clock the decisions were made with.
 */
export async function applyDecisions(q: Query, S: string, decisions: Decision[], now: number): Promise<Job[]> {
  if (decisions.length === 0) return [];
  const col = <T>(f: (d: Decision) => T): T[] => decisions.map(f);
  const rows = await q(
    `WITH d AS (
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::int[],
                            $8::bigint[], $9::text[], $10::boolean[], $11::text[], $12::text[])
         AS d(id, attempt, state, run_at, result, error, charged_attempts, finished_at, outcome, charged, attempt_error,
              hang_report)
     ),
     j AS (
       UPDATE ${S}.jobs j SET
         state = d.state, run_at = coalesce(d.run_at, j.run_at), result = d.result, error = d.error,
         charged_attempts = d.charged_attempts, finished_at = d.finished_at, updated_at = $13::bigint,
         lease_owner = NULL, lease_expires_at = NULL
       FROM d
       WHERE j.id = d.id AND j.attempts = d.attempt AND j.state = 'running'
       RETURNING ${jobColumns('j')}
     ),
     a AS (
       UPDATE ${S}.attempts a SET finished_at = $13::bigint, outcome = d.outcome, charged = d.charged,
              error = d.attempt_error, hang_report = d.hang_report
         FROM d, j
        WHERE j.id = d.id AND a.job_id = d.id AND a.attempt = d.attempt AND a.finished_at IS NULL
     )
     SELECT * FROM j ORDER BY id`,
    [
      col((d) => d.jobId),
      col((d) => d.attempt),
      col((d) => d.next.state),
      col((d) => d.next.runAt),
      col((d) => (d.next.state === 'succeeded' ? jsonValue(d.next.result) : null)),
      col((d) => json(d.next.error)),
      col((d) => d.next.chargedAttempts),
      col((d) => (d.next.state === 'queued' ? null : now)),
      col((d) => d.finish.outcome),
      col((d) => d.next.charged),
      col((d) => (d.finish.outcome === 'succeeded' ? null : json(d.finish.error))),
      col((d) => (d.finish.outcome === 'succeeded' ? null : json(d.finish.hangReport ?? null))),
      now,
    ],
  );
  return rows.map(toJob);
}
