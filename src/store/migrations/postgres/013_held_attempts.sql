-- Prefetched attempts (issue 15's known gap): a worker claims a few jobs ahead into its prefetch buffer, and when it
-- was SIGKILLed those jobs were recovered as crashed and CHARGED, though they never started (with maxAttempts 1 they
-- failed without having run). `held` says the attempt was claimed into the buffer and no lease renewal has said it
-- started since; recovery ends a held attempt uncharged, at most held_recoveries < HELD_RECOVERIES_MAX times per job
-- (src/store/store-errors.ts: a start is recorded only at the next renewal).
ALTER TABLE jobs ADD COLUMN held boolean NOT NULL DEFAULT false,
                 ADD COLUMN held_recoveries integer NOT NULL DEFAULT 0;

-- The claim functions of migrations 010 and 011 with p_start: the claim's first p_start rows (in claim order) start
-- at once, the rest are held. Otherwise unchanged. The old signatures stay (at the end), as wrappers that start every
-- row: workers of the previous version keep running during a rolling deploy (docs/deployment.md).

CREATE FUNCTION claim_jobs(p_tasks text[], p_caps integer[], p_limit integer, p_worker text, p_lease bigint,
                           p_sweep integer, p_start integer)
  RETURNS TABLE (job jobs, expired json, claim_now bigint)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_now bigint := now_ms();
  v_expired json;
BEGIN
  -- Queued jobs past their deadline are never taken; the caller fails them (the error is built by next-state.ts),
  -- p_sweep (SWEEP_BATCH) at most per claim.
  -- Walks jobs_deadlines only ("IS TRUE" keeps the task test out of any index condition: see claim.ts).
  SELECT json_agg(json_build_array(e.id::text, e.deadline_at)) INTO v_expired
    FROM (SELECT x.id, x.deadline_at FROM jobs x
           WHERE x.state = 'queued' AND x.deadline_at IS NOT NULL AND x.deadline_at <= v_now
             AND (x.task = ANY(p_tasks)) IS TRUE
           ORDER BY x.deadline_at LIMIT p_sweep) e;
  -- Jobs of a paused task enqueued since the pause: show why they wait and move them to the pause's end. The
  -- IF keeps the usual case (no pause in force) from ever planning or running the UPDATE.
  IF EXISTS (SELECT 1 FROM task_pauses g WHERE g.until > v_now AND g.task = ANY(p_tasks)) THEN
    UPDATE jobs j SET run_at = p.until, wait_reason = 'task ' || p.task || ' is paused: ' || p.reason
      FROM task_pauses p
     WHERE p.until > v_now AND p.task = ANY(p_tasks) AND j.task = p.task AND j.state = 'queued'
       AND j.run_at < p.until;
  END IF;
  RETURN QUERY
  WITH cand AS (
    SELECT x.id, x.priority, x.run_at, row_number() OVER (ORDER BY x.priority DESC, x.run_at, x.id) AS rank
      FROM unnest(p_tasks, p_caps) AS r(task, cap) CROSS JOIN LATERAL (
        SELECT q.id, q.priority, q.run_at FROM jobs q
         WHERE q.state = 'queued' AND q.task = r.task AND q.run_at <= v_now
           AND (q.deadline_at IS NULL OR q.deadline_at > v_now)
           AND NOT EXISTS (SELECT 1 FROM task_pauses p WHERE p.task = r.task AND p.until > v_now)
         ORDER BY q.priority DESC, q.run_at, q.id
         LIMIT LEAST(r.cap, p_limit)
         FOR UPDATE SKIP LOCKED
      ) x
     ORDER BY x.priority DESC, x.run_at, x.id
     LIMIT p_limit
  ),
  claimed AS (
    UPDATE jobs j
       SET state = 'running', attempts = j.attempts + 1, lease_owner = p_worker, lease_expires_at = v_now + p_lease,
           started_at = v_now, finished_at = NULL, updated_at = v_now, last_heartbeat_at = NULL, progress = NULL,
           wait_reason = NULL, held = cand.rank > p_start
      FROM cand
     WHERE j.id = cand.id
    RETURNING j.*
  ),
  att AS (
    INSERT INTO attempts (job_id, attempt, worker_id, started_at, charged)
    SELECT c.id, c.attempts, c.lease_owner, c.started_at, true FROM claimed c
  )
  SELECT c::jobs, v_expired, v_now FROM claimed c ORDER BY c.priority DESC, c.run_at, c.id;
  -- Nothing claimed: one row anyway when there are expired jobs to fail.
  IF NOT FOUND AND v_expired IS NOT NULL THEN
    RETURN QUERY SELECT NULL::jobs, v_expired, v_now;
  END IF;
END $$;

CREATE FUNCTION finish_succeeded_claim(p_ids bigint[], p_attempts integer[], p_workers text[], p_results text[],
                                       p_tasks text[], p_caps integer[], p_limit integer, p_worker text,
                                       p_lease bigint, p_sweep integer, p_start integer)
  RETURNS TABLE (fin boolean, job jobs, expired json, claim_now bigint)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
  RETURN QUERY SELECT true, f, NULL::json, NULL::bigint FROM finish_succeeded(p_ids, p_attempts, p_workers, p_results) f;
  RETURN QUERY SELECT false, c.job, c.expired, c.claim_now
                 FROM claim_jobs(p_tasks, p_caps, p_limit, p_worker, p_lease, p_sweep, p_start) c;
END $$;

CREATE OR REPLACE FUNCTION claim_jobs(p_tasks text[], p_caps integer[], p_limit integer, p_worker text, p_lease bigint,
                                      p_sweep integer)
  RETURNS TABLE (job jobs, expired json, claim_now bigint)
  LANGUAGE sql VOLATILE
  SET search_path FROM CURRENT
AS $$ SELECT * FROM claim_jobs(p_tasks, p_caps, p_limit, p_worker, p_lease, p_sweep, p_limit) $$;

CREATE OR REPLACE FUNCTION finish_succeeded_claim(p_ids bigint[], p_attempts integer[], p_workers text[],
                                                  p_results text[], p_tasks text[], p_caps integer[], p_limit integer,
                                                  p_worker text, p_lease bigint, p_sweep integer)
  RETURNS TABLE (fin boolean, job jobs, expired json, claim_now bigint)
  LANGUAGE sql VOLATILE
  SET search_path FROM CURRENT
AS $$ SELECT * FROM finish_succeeded_claim(p_ids, p_attempts, p_workers, p_results, p_tasks, p_caps, p_limit, p_worker,
                                           p_lease, p_sweep, p_limit) $$;
