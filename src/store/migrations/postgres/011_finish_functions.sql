-- A success's finish (and a C=1 worker's finish + refill claim) as PL/pgSQL functions, like the claim (migration
-- 010). The finish was one big statement of five CTEs that PostgreSQL parsed, analysed and planned on every call:
-- ~0.6 ms of planning alone for one job (EXPLAIN, bench/pg-explain-hot.mts), more than running it. A function's
-- statements are parsed once per session; the client calls it through a named prepared statement whose plan is a
-- bare Function Scan (nothing there for a generic plan to get wrong).
--
-- plan_cache_mode = force_custom_plan, as in claim_jobs: the statements inside are planned per call with the real
-- values, never by a generic plan fixed while the jobs table was small (bench/pg-plan-growth.mts, pgperf).
--
-- Same semantics as SUCCEEDED_CTES in src/store/postgres/attempts.ts: fenced row by row (DESIGN G5), the rows
-- locked in id order (two batches never deadlock), the decision nextState() gives a success (rule 1 reads nothing
-- of the row: test/postgres-store.test.ts checks it), the attempts ended. p_results are the results as JSON text.
CREATE FUNCTION finish_succeeded(p_ids bigint[], p_attempts integer[], p_workers text[], p_results text[])
  RETURNS SETOF jobs
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_now bigint := now_ms();
BEGIN
  RETURN QUERY
  WITH d AS (SELECT * FROM unnest(p_ids, p_attempts, p_workers, p_results) AS d(job_id, attempt, worker_id, result)),
  lk AS (
    SELECT x.id, o.result FROM (SELECT * FROM d ORDER BY d.job_id) o, LATERAL (
      SELECT j.id FROM jobs j
       WHERE j.id = o.job_id AND j.attempts = o.attempt AND j.lease_owner = o.worker_id AND j.state = 'running'
         AND (j.lease_expires_at > v_now) IS TRUE
       FOR UPDATE
    ) x
  ),
  fin AS (
    UPDATE jobs j SET
      state = 'succeeded', result = lk.result, error = NULL, charged_attempts = j.charged_attempts + 1,
      finished_at = v_now, updated_at = v_now, lease_owner = NULL, lease_expires_at = NULL
    -- lk fenced and locked these rows in this statement: nothing can have moved them since.
    FROM lk
    WHERE j.id = lk.id
    RETURNING j.*
  ),
  a AS (
    UPDATE attempts a SET finished_at = fin.finished_at, outcome = 'succeeded', charged = true, error = NULL,
           hang_report = NULL
      FROM fin
     WHERE a.job_id = fin.id AND a.attempt = fin.attempts AND a.finished_at IS NULL
  )
  SELECT * FROM fin ORDER BY fin.id;
END $$;

-- Successes and one claim (claim_jobs) in one call, so one round trip and one commit per job at C=1. The finish
-- runs first; the claim takes queued rows only, so no row is touched by both. One result set: `fin` true for a
-- finished job, false for the claim's rows (job NULL with the expired list when nothing was claimed).
CREATE FUNCTION finish_succeeded_claim(p_ids bigint[], p_attempts integer[], p_workers text[], p_results text[],
                                       p_tasks text[], p_caps integer[], p_limit integer, p_worker text,
                                       p_lease bigint, p_sweep integer)
  RETURNS TABLE (fin boolean, job jobs, expired json, claim_now bigint)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
  RETURN QUERY SELECT true, f, NULL::json, NULL::bigint FROM finish_succeeded(p_ids, p_attempts, p_workers, p_results) f;
  RETURN QUERY SELECT false, c.job, c.expired, c.claim_now
                 FROM claim_jobs(p_tasks, p_caps, p_limit, p_worker, p_lease, p_sweep) c;
END $$;
