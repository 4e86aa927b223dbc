import type { Job } from '../../types.js';
import { nextState } from '../next-state.js';
import { SWEEP_BATCH } from '../requests.js';
import { expiredLeaseFinish } from '../store-errors.js';
import { applyDecisions, DECISION_COLUMNS, decisionFacts, decisionPolicy, type Decision, type DecisionRow } from './apply.js';
import type { Db } from './db.js';

/**
 * One transaction: lock the running jobs whose lease expired on the DATABASE's clock (at most SWEEP_BATCH, `SKIP
 * LOCKED`, so workers recovering at the same time split the work instead of doing it twice), end each attempt
 * `crashed` (charged, unless it was held: expiredLeaseFinish) and let nextState() decide each job with its stored
 * retry policy, exactly as for a reported crash, then write every decision with one batched, fenced statement.
 */
export async function recoverExpired(db: Db): Promise<Job[]> {
  const S = db.s;
  return db.tx(async (q) => {
    const expired = await q<DecisionRow & { held: boolean; held_recoveries: number }>(
      `SELECT ${DECISION_COLUMNS(S)}, held, held_recoveries
         FROM ${S}.jobs
        WHERE state = 'running' AND lease_expires_at <= ${S}.now_ms()
        ORDER BY lease_expires_at
        LIMIT ${SWEEP_BATCH}
        FOR UPDATE SKIP LOCKED`,
    );
    if (expired.length === 0) return [];
    const now = Number(expired[0]!.now);
    const unstarted: string[] = [];
    const decisions: Decision[] = expired.map((r) => {
      const finish = expiredLeaseFinish(r, now);
      if (!finish.charged) unstarted.push(r.id);
      return { jobId: r.id, attempt: r.attempts, finish, next: nextState(decisionFacts(r), finish, decisionPolicy(r), now) };
    });
    if (unstarted.length > 0) await q(`UPDATE ${S}.jobs SET held_recoveries = held_recoveries + 1 WHERE id = ANY($1::bigint[])`, [unstarted]);
    return applyDecisions(q, S, decisions, now);
  });
}
