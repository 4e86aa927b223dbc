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

CREATE FUNCTION notify_jobs_updated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  names text[];
  r record;
  cancel_ids text[];
BEGIN
  SELECT array_agg(DISTINCT n.task) INTO names
    FROM new_rows n JOIN old_rows o USING (id)
   WHERE n.state = 'queued' AND o.state <> 'queued';
  PERFORM notify_enqueued(TG_TABLE_SCHEMA, names);
  FOR r IN
    SELECT n.id, n.parent_id, n.state
      FROM new_rows n JOIN old_rows o USING (id)
     WHERE n.state IN ('succeeded', 'failed', 'cancelled') AND o.state NOT IN ('succeeded', 'failed', 'cancelled')
     ORDER BY n.id
  LOOP
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA,
      json_build_object('t', 'f', 'i', r.id::text, 'p', r.parent_id::text, 's', r.state)::text);
  END LOOP;
  SELECT array_agg(n.id::text ORDER BY n.id) INTO cancel_ids
    FROM new_rows n JOIN old_rows o USING (id)
   WHERE n.cancel_requested AND NOT o.cancel_requested AND n.state = 'running';
  IF cancel_ids IS NOT NULL THEN
    -- Chunked: a NOTIFY payload must stay under 8000 bytes.
    FOR i IN 0 .. (array_length(cancel_ids, 1) - 1) / 200 LOOP
      PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA,
        json_build_object('t', 'c', 'i', cancel_ids[i * 200 + 1 : i * 200 + 200])::text);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION notify_jobs_inserted();
CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION notify_jobs_updated();
