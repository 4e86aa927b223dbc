-- Cheaper state changes (issue 15: the SQLite drain regression after stop 8). Every claim and every finish moves a
-- job row between states, and each index holding `state` then rewrites its entries, so every write transaction
-- dirtied (and copied into the WAL) pages of up to seven indexes. The queue-only indexes now hold only queued
-- jobs: a claim removes one entry from each, a finish touches none of them.
-- Measured on 4,000 claim+finish pairs, one job per transaction, same process alternating (bench/NOTES.md):
-- 412-422 → 291-313 CPU-µs per job for the indexes, and ~15 µs more for the event trim below.

-- Claims (INDEXED BY jobs_claim, `state = 'queued'` in the statement).
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (task, priority DESC, run_at, id) WHERE state = 'queued';
-- nextRunAt: one probe per task (INDEXED BY jobs_task_run_at, `state = 'queued'` in the statement).
DROP INDEX jobs_task_run_at;
CREATE INDEX jobs_task_run_at ON jobs (task, run_at) WHERE state = 'queued';
-- The oldest runnable job (server stats, readiness).
DROP INDEX jobs_run_at;
CREATE INDEX jobs_run_at ON jobs (run_at, priority) WHERE state = 'queued';

-- Durable job events (005): the retention delete ran for every event (a max(seq) lookup and a range delete per
-- changed row). It now runs once per 1,000 events and deletes up to 1,000 at a time: the table holds between
-- 100,000 and 101,000 events, and the newest is never deleted (so seq, AUTOINCREMENT, is still never reused).
DROP TRIGGER job_events_on_insert;
DROP TRIGGER job_events_on_update;
CREATE TRIGGER job_events_on_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
    VALUES (NEW.id, NEW.task, NEW.state, NEW.parent_id, NEW.attempts, NEW.cancel_requested, NEW.updated_at);
END;
CREATE TRIGGER job_events_on_update AFTER UPDATE OF state, attempts, cancel_requested ON jobs
  WHEN OLD.state IS NOT NEW.state OR OLD.attempts IS NOT NEW.attempts OR OLD.cancel_requested IS NOT NEW.cancel_requested
BEGIN
  INSERT INTO job_events (job_id, task, state, parent_id, attempt, cancel_requested, at)
    VALUES (NEW.id, NEW.task, NEW.state, NEW.parent_id, NEW.attempts, NEW.cancel_requested, NEW.updated_at);
END;
CREATE TRIGGER job_events_trim AFTER INSERT ON job_events WHEN NEW.seq % 1000 = 0 BEGIN
  DELETE FROM job_events WHERE seq <= NEW.seq - 100000;
END;
