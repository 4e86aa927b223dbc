-- Durable job events for the server's live feeds (GET /api/events): one row per state change, written by
-- triggers so every writer (any worker process, any code path) records them without knowing the server exists.
-- `seq` is the SSE event id: it only grows, so a client that reconnects with Last-Event-ID resumes exactly.
-- SQLite serialises writers, so seq order is commit order: a reader never sees seq N+1 before seq N.

CREATE TABLE job_events (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: never reused after retention deletes
  job_id           INTEGER NOT NULL,
  task             TEXT    NOT NULL,
  state            TEXT    NOT NULL,
  parent_id        INTEGER,
  attempt          INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL,
  at               INTEGER NOT NULL
);

-- Retention: the newest 100 000 events (a reconnecting client further behind than that gets a reset).
CREATE TRIGGER job_events_on_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
    VALUES (NEW.id, NEW.task, NEW.state, NEW.parent_id, NEW.attempts, NEW.cancel_requested, NEW.updated_at);
  DELETE FROM job_events WHERE seq <= (SELECT max(seq) FROM job_events) - 100000;
END;

CREATE TRIGGER job_events_on_update AFTER UPDATE OF state, attempts, cancel_requested ON jobs
  WHEN OLD.state IS NOT NEW.state OR OLD.attempts IS NOT NEW.attempts OR OLD.cancel_requested IS NOT NEW.cancel_requested
BEGIN
  INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
    VALUES (NEW.id, NEW.task, NEW.state, NEW.parent_id, NEW.attempts, NEW.cancel_requested, NEW.updated_at);
  DELETE FROM job_events WHERE seq <= (SELECT max(seq) FROM job_events) - 100000;
END;

-- GET /api/stats: jobs finished in the last hour, per bucket.
CREATE INDEX jobs_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
