-- Flow control: schedules, rate limits, task pauses, retention.

-- One row per schedule name. last_tick_at only grows, and it is moved with compare-and-set in the same transaction
-- that enqueues the tick's job: with any number of workers ticking, each tick is enqueued once.
CREATE TABLE schedules (
  name         TEXT    PRIMARY KEY,
  task         TEXT    NOT NULL,
  spec         TEXT    NOT NULL, -- JSON: { cron | every, timezone, catchUp }
  last_tick_at INTEGER NOT NULL, -- the latest tick handled (fired or skipped by the catch-up policy)
  last_job_id  INTEGER,
  last_fired_at INTEGER,
  next_tick_at INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

-- Sliding-window rate limit: one row per attempt started under a limit, kept for one window.
CREATE TABLE rate_starts (
  task TEXT    NOT NULL,
  key  TEXT    NOT NULL,
  at   INTEGER NOT NULL
);
CREATE INDEX rate_starts_bucket ON rate_starts (task, key, at);

-- A task paused by RetryAfterError({ pauseTask: true }): no job of it is claimed before `until`.
CREATE TABLE task_pauses (
  task   TEXT    PRIMARY KEY,
  until  INTEGER NOT NULL,
  reason TEXT    NOT NULL
);

-- Why a queued job is not running although it is due (a rate limit, a paused task); NULL when nothing holds it.
ALTER TABLE jobs ADD COLUMN wait_reason TEXT;

-- Retention walks the oldest finished top-level jobs in order (children go with them), and the oldest log lines.
CREATE INDEX jobs_finished_roots ON jobs (state, finished_at) WHERE parent_id IS NULL AND finished_at IS NOT NULL;
CREATE INDEX logs_ts ON logs (ts);
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
