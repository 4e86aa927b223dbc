-- Flow control: schedules, rate limits, task pauses, retention. See the SQLite twin for the reasoning.

CREATE TABLE schedules (
  name          text   PRIMARY KEY,
  task          text   NOT NULL,
  spec          text   NOT NULL,
  last_tick_at  bigint NOT NULL,
  last_job_id   bigint,
  last_fired_at bigint,
  next_tick_at  bigint,
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL
);

CREATE TABLE rate_starts (
  task text   NOT NULL,
  key  text   NOT NULL,
  at   bigint NOT NULL
);
CREATE INDEX rate_starts_bucket ON rate_starts (task, key, at);

CREATE TABLE task_pauses (
  task   text   PRIMARY KEY,
  until  bigint NOT NULL,
  reason text   NOT NULL
);

ALTER TABLE jobs ADD COLUMN wait_reason text;

CREATE INDEX jobs_finished_roots ON jobs (state, finished_at) WHERE parent_id IS NULL AND finished_at IS NOT NULL;
CREATE INDEX logs_ts ON logs (ts);
