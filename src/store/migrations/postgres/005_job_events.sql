-- Durable job events for the server's live feeds (GET /api/events): one row per state change, written by a
-- trigger so every writer (any worker on any machine, any code path) records them without knowing the server
-- exists. `seq` is the SSE event id. Concurrent transactions may commit out of seq order, so readers hold back
-- behind a gap for a moment (src/server/event-feed.ts) instead of skipping a row that is about to appear.

CREATE TABLE job_events (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id           bigint  NOT NULL,
  task             text    NOT NULL,
  state            text    NOT NULL,
  parent_id        bigint,
  attempt          integer NOT NULL,
  cancel_requested boolean NOT NULL,
  at               bigint  NOT NULL
);

CREATE FUNCTION record_job_event() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  new_seq bigint;
BEGIN
  IF TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state OR OLD.attempts IS DISTINCT FROM NEW.attempts
     OR OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested THEN
    INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
      VALUES (NEW.id, NEW.task, NEW.state, NEW.parent_id, NEW.attempts, NEW.cancel_requested, NEW.updated_at)
      RETURNING seq INTO new_seq;
    -- Retention: the newest 100 000 events (a reconnecting client further behind than that gets a reset).
    DELETE FROM job_events WHERE seq <= new_seq - 100000;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER job_events_row AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION record_job_event();

-- GET /api/stats: jobs finished in the last hour, per bucket.
CREATE INDEX jobs_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
