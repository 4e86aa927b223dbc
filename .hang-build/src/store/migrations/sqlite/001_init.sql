-- Vigil SQLite schema, version 1. Times are epoch milliseconds (INTEGER); JSON columns are TEXT.

CREATE TABLE jobs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: an id is never reused, even after deletes
  task              TEXT    NOT NULL,
  state             TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  input             TEXT    NOT NULL,
  result            TEXT,
  error             TEXT,
  attempts          INTEGER NOT NULL DEFAULT 0,
  charged_attempts  INTEGER NOT NULL DEFAULT 0,
  max_attempts      INTEGER NOT NULL,
  -- The whole policy is kept so a job whose worker died can be retried by any other worker (recoverExpired)
  -- without the tasks module being loaded.
  retry_policy      TEXT    NOT NULL,
  parent_id         INTEGER,
  child_key         TEXT,
  idempotency_key   TEXT,
  priority          INTEGER NOT NULL DEFAULT 0,
  run_at            INTEGER NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  started_at        INTEGER,
  finished_at       INTEGER,
  deadline_ms       INTEGER, -- kept so retry() can give the job a fresh deadline
  deadline_at       INTEGER,
  progress          TEXT,
  last_heartbeat_at INTEGER,
  lease_owner       TEXT,
  lease_expires_at  INTEGER,
  cancel_requested  INTEGER NOT NULL DEFAULT 0,
  cancel_reason     TEXT,
  log_seq           INTEGER NOT NULL DEFAULT 0 -- last log seq handed out for this job
);

CREATE UNIQUE INDEX jobs_parent_child_key ON jobs (parent_id, child_key);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Claim order: per task, highest priority, then oldest run_at, then lowest id.
CREATE INDEX jobs_claim ON jobs (state, task, priority DESC, run_at, id);
CREATE INDEX jobs_run_at ON jobs (state, run_at, priority);
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_deadline ON jobs (deadline_at) WHERE state = 'queued' AND deadline_at IS NOT NULL;
CREATE INDEX jobs_state_id ON jobs (state, id);
CREATE INDEX jobs_task_id ON jobs (task, id);

CREATE TABLE attempts (
  job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL,
  worker_id   TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  outcome     TEXT,
  charged     INTEGER NOT NULL DEFAULT 1,
  error       TEXT,
  hang_report TEXT,
  PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;

CREATE TABLE logs (
  id      INTEGER PRIMARY KEY,
  job_id  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  seq     INTEGER NOT NULL,
  ts      INTEGER NOT NULL,
  stream  TEXT    NOT NULL,
  line    TEXT    NOT NULL
);
CREATE UNIQUE INDEX logs_job_seq ON logs (job_id, seq);

CREATE TABLE workers (
  worker_id    TEXT    PRIMARY KEY,
  hostname     TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  concurrency  INTEGER NOT NULL,
  tasks        TEXT    NOT NULL,
  started_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  stats        TEXT    NOT NULL DEFAULT 'null'
);

CREATE TABLE tasks (
  name       TEXT    PRIMARY KEY,
  options    TEXT    NOT NULL,
  worker_id  TEXT,
  updated_at INTEGER NOT NULL
);
