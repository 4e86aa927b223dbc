-- Vigil on PostgreSQL, version 1. Runs with search_path set to the Vigil schema (see migrate.ts), so names here are
-- unqualified and every Vigil instance gets its own copy. Times are bigint epoch milliseconds on the DATABASE's
-- clock: workers on several machines compare leases and run times against one clock, never their own.

-- statement_timestamp() is fixed for the whole statement, so every "now" in one statement is the same instant.
CREATE FUNCTION now_ms() RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint $$;

-- The errors the store writes by itself inside a statement. They mirror deadlineError() in src/store/rows.ts (the
-- SQLite store builds the same objects in TypeScript): change both together. The last attempt's kind and message
-- come as separate text arguments because json ->> refuses strings holding \u0000.
CREATE FUNCTION iso_ms(t bigint) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT to_char(to_timestamp(t / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '.'
               || lpad((t % 1000)::text, 3, '0') || 'Z' $$;

CREATE FUNCTION deadline_error(deadline_at bigint, now bigint, last_kind text, last_message text, last text)
  RETURNS text LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT CASE WHEN last IS NULL THEN
    json_build_object(
      'kind', 'deadline',
      'message', format('the job''s deadline (%s) passed %s ms before a worker could start it; raise the task''s "deadline" or add workers',
                        iso_ms(deadline_at), greatest(0, now - deadline_at)),
      'retryable', false,
      'details', json_build_object('deadlineAt', deadline_at))::text
  ELSE
    json_build_object(
      'kind', 'deadline',
      'message', format('the job''s deadline (%s) passes before its next attempt could run; the last attempt ended with %s: %s',
                        iso_ms(deadline_at), last_kind, last_message),
      'retryable', false,
      'details', json_build_object('deadlineAt', deadline_at),
      'cause', last::json)::text
  END $$;

CREATE FUNCTION cancelled_error(reason text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT json_build_object('kind', 'cancelled', 'message', coalesce(nullif(reason, ''), 'cancelled'), 'retryable', false)::text $$;

CREATE TABLE jobs (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task              text    NOT NULL,
  state             text    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  -- JSON kept as text: exact round trip, and no jsonb refusal of "\u0000" inside user strings.
  input             text    NOT NULL,
  result            text,
  error             text,
  retry             text    NOT NULL,
  attempts          integer NOT NULL DEFAULT 0,
  charged_attempts  integer NOT NULL DEFAULT 0,
  max_attempts      integer NOT NULL,
  parent_id         bigint,
  child_key         text,
  idempotency_key   text,
  priority          integer NOT NULL DEFAULT 0,
  run_at            bigint  NOT NULL,
  created_at        bigint  NOT NULL,
  updated_at        bigint  NOT NULL,
  started_at        bigint,
  finished_at       bigint,
  deadline_ms       bigint, -- kept so retry() can give the job a fresh deadline
  deadline_at       bigint,
  progress          text,
  last_heartbeat_at bigint,
  lease_owner       text,
  lease_expires_at  bigint,
  cancel_requested  boolean NOT NULL DEFAULT false,
  cancel_reason     text,
  -- Last log seq handed out for this job: appendLogs bumps it under the row lock, so seqs never collide.
  log_seq           integer NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX jobs_child_key ON jobs (parent_id, child_key) WHERE parent_id IS NOT NULL AND child_key IS NOT NULL;
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_claim ON jobs (task, priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_parent ON jobs (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_task ON jobs (task, id);
-- claim() fails queued jobs whose deadline passed; without this it would scan the whole queue to find them.
CREATE INDEX jobs_deadlines ON jobs (deadline_at) WHERE state = 'queued' AND deadline_at IS NOT NULL;

CREATE TABLE attempts (
  job_id      bigint  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt     integer NOT NULL,
  worker_id   text    NOT NULL,
  started_at  bigint  NOT NULL,
  finished_at bigint,
  outcome     text,
  charged     boolean NOT NULL DEFAULT true,
  error       text,
  hang_report text,
  PRIMARY KEY (job_id, attempt)
);

CREATE TABLE logs (
  job_id  bigint  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  seq     integer NOT NULL,
  attempt integer NOT NULL,
  ts      bigint  NOT NULL,
  stream  text    NOT NULL,
  line    text    NOT NULL,
  PRIMARY KEY (job_id, seq)
);

CREATE TABLE workers (
  worker_id    text    PRIMARY KEY,
  hostname     text    NOT NULL,
  pid          integer NOT NULL,
  concurrency  integer NOT NULL,
  started_at   bigint  NOT NULL,
  last_seen_at bigint  NOT NULL,
  stats        text    NOT NULL DEFAULT 'null'
);

CREATE TABLE tasks (
  name       text   PRIMARY KEY,
  options    text   NOT NULL,
  updated_at bigint NOT NULL
);

-- Every state change is announced from inside the database, on commit, whoever made it (this store, another
-- worker, an operator's UPDATE): idle workers and waiters in every process wake without polling. The channel is
-- per schema so instances sharing a database do not wake each other.
CREATE FUNCTION notify_enqueued(schema_name text, names text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  payload text;
BEGIN
  IF names IS NULL THEN
    RETURN;
  END IF;
  payload := json_build_object('t', 'e', 'k', names)::text;
  -- A payload over 8000 bytes would fail the whole write: send "some tasks" and let listeners look them up.
  IF octet_length(payload) > 7900 THEN
    payload := json_build_object('t', 'e', 'k', NULL)::text;
  END IF;
  PERFORM pg_notify('vigil_' || schema_name, payload);
END $$;

CREATE FUNCTION notify_jobs_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  names text[];
BEGIN
  SELECT array_agg(DISTINCT task) INTO names FROM new_rows WHERE state = 'queued';
  PERFORM notify_enqueued(TG_TABLE_SCHEMA, names);
  RETURN NULL;
END $$;

-- Row level, with the transition test in WHEN (evaluated without calling any function): lease renewals, heartbeats
-- and log appends, the most frequent updates, cost nothing here. Identical payloads in one transaction are
-- delivered once, so re-queueing many jobs of one task sends one `enqueued`.
CREATE FUNCTION notify_job_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.state = 'queued' AND OLD.state <> 'queued' THEN
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA, json_build_object('t', 'e', 'k', json_build_array(NEW.task))::text);
  ELSIF NEW.state IN ('succeeded', 'failed', 'cancelled') AND OLD.state NOT IN ('succeeded', 'failed', 'cancelled') THEN
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA,
      json_build_object('t', 'f', 'i', NEW.id::text, 'p', NEW.parent_id::text, 's', NEW.state)::text);
  ELSIF NEW.cancel_requested AND NOT OLD.cancel_requested AND NEW.state = 'running' THEN
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA, json_build_object('t', 'c', 'i', json_build_array(NEW.id::text))::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION notify_jobs_inserted();
CREATE TRIGGER jobs_changed AFTER UPDATE ON jobs FOR EACH ROW
  WHEN ((NEW.state = 'queued' AND OLD.state <> 'queued')
     OR (NEW.state IN ('succeeded', 'failed', 'cancelled') AND OLD.state NOT IN ('succeeded', 'failed', 'cancelled'))
     OR (NEW.cancel_requested AND NOT OLD.cancel_requested AND NEW.state = 'running'))
  EXECUTE FUNCTION notify_job_changed();
