-- job_events (migration 005) were written by a ROW trigger: a PL/pgSQL call, an INSERT and a retention DELETE for
-- every row of every UPDATE on jobs, lease renewals and heartbeats included (the function decided inside whether
-- the row changed state). A bulk enqueue of 10 000 jobs ran 10 000 of each. Now the events of a statement are
-- written by ONE statement-level trigger per statement, from the transition tables: same rows, same columns, seq
-- in job id order within a statement. The UPDATE side shares its function call (and its transition tables) with
-- the finished-jobs notification of migration 006, so an UPDATE on jobs costs one trigger call, not two plus one
-- per row.
--
-- Retention keeps at least the newest 100 000 events, as before, but deletes only when a statement's seqs cross a
-- multiple of 1 000 (one range delete per 1 000 events instead of one per event).

DROP TRIGGER job_events_row ON jobs;
DROP FUNCTION record_job_event();

-- Called with the seqs a statement just took: trims when they crossed a multiple of 1 000.
CREATE FUNCTION trim_job_events(first_seq bigint, last_seq bigint) RETURNS void LANGUAGE sql
  SET search_path FROM CURRENT AS $$
  DELETE FROM job_events WHERE seq <= last_seq - 100000 AND last_seq / 1000 <> (first_seq - 1) / 1000
$$;

CREATE OR REPLACE FUNCTION notify_jobs_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  names text[];
  first_seq bigint;
  last_seq bigint;
BEGIN
  WITH ev AS (
    INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
    SELECT id, task, state, parent_id, attempts, cancel_requested, updated_at FROM new_rows ORDER BY id
    RETURNING seq
  )
  SELECT (SELECT min(seq) FROM ev), (SELECT max(seq) FROM ev),
         (SELECT array_agg(DISTINCT task) FROM new_rows WHERE state = 'queued')
    INTO first_seq, last_seq, names;
  IF last_seq > 100000 AND last_seq / 1000 <> (first_seq - 1) / 1000 THEN
    PERFORM trim_job_events(first_seq, last_seq);
  END IF;
  PERFORM notify_enqueued(TG_TABLE_SCHEMA, names);
  RETURN NULL;
END $$;

-- One call per UPDATE statement on jobs, one query over the transition tables: the state-change events, and the
-- finished-jobs notification of migration 006 (unchanged: at most one per statement).
CREATE FUNCTION jobs_updated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  first_seq bigint;
  last_seq bigint;
  n int;
  ids text[];
  parents text[];
  states text[];
BEGIN
  WITH ch AS MATERIALIZED (
    SELECT f.id, f.task, f.state, f.parent_id, f.attempts, f.cancel_requested, f.updated_at,
           f.state IN ('succeeded', 'failed', 'cancelled') AND o.state NOT IN ('succeeded', 'failed', 'cancelled') AS fin
      FROM new_rows f JOIN old_rows o ON o.id = f.id
     WHERE o.state IS DISTINCT FROM f.state OR o.attempts IS DISTINCT FROM f.attempts
        OR o.cancel_requested IS DISTINCT FROM f.cancel_requested
  ),
  ev AS (
    INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
    SELECT id, task, state, parent_id, attempts, cancel_requested, updated_at FROM ch ORDER BY id
    RETURNING seq
  )
  SELECT (SELECT min(seq) FROM ev), (SELECT max(seq) FROM ev), count(*) FILTER (WHERE fin),
         array_agg(id::text ORDER BY id) FILTER (WHERE fin), array_agg(parent_id::text ORDER BY id) FILTER (WHERE fin),
         array_agg(state ORDER BY id) FILTER (WHERE fin)
    INTO first_seq, last_seq, n, ids, parents, states
    FROM ch;
  -- No row changed state, attempt or cancel flag (a lease renewal, a heartbeat, a log append): nothing to record.
  IF last_seq IS NULL THEN
    RETURN NULL;
  END IF;
  IF last_seq > 100000 AND last_seq / 1000 <> (first_seq - 1) / 1000 THEN
    PERFORM trim_job_events(first_seq, last_seq);
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > 100 THEN
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA, json_build_object('t', 'F', 'i', NULL)::text);
  ELSE
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA, json_build_object('t', 'F', 'i', ids, 'p', parents, 's', states)::text);
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER jobs_finished ON jobs;
DROP FUNCTION notify_jobs_finished();
CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_updated();
