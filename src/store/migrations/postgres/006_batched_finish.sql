-- Finishes are group-committed (many jobs per transaction), and a NOTIFY per finished row made every finishing
-- commit take PostgreSQL's database-wide notify lock and send one message per job to every listener. Now the
-- row trigger announces only re-queues and cancel requests; finishes are announced by ONE statement-level
-- notification per statement that finished any job: `{"t":"F","i":[ids],"p":[parent ids],"s":[states]}` (ids of at most 100
-- jobs; past that `"i":null`, "re-read what you wait for"). Listeners: parents waiting on children and
-- Vigil.wait(); idle workers no longer wake on finishes.

CREATE OR REPLACE FUNCTION notify_job_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.state = 'queued' AND OLD.state <> 'queued' THEN
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA, json_build_object('t', 'e', 'k', json_build_array(NEW.task))::text);
  ELSIF NEW.cancel_requested AND NOT OLD.cancel_requested AND NEW.state = 'running' THEN
    PERFORM pg_notify('vigil_' || TG_TABLE_SCHEMA, json_build_object('t', 'c', 'i', json_build_array(NEW.id::text))::text);
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER jobs_changed ON jobs;
CREATE TRIGGER jobs_changed AFTER UPDATE ON jobs FOR EACH ROW
  WHEN ((NEW.state = 'queued' AND OLD.state <> 'queued')
     OR (NEW.cancel_requested AND NOT OLD.cancel_requested AND NEW.state = 'running'))
  EXECUTE FUNCTION notify_job_changed();

CREATE FUNCTION notify_jobs_finished() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n int;
  ids text[];
  parents text[];
  states text[];
BEGIN
  SELECT count(*), array_agg(f.id::text ORDER BY f.id), array_agg(f.parent_id::text ORDER BY f.id),
         array_agg(f.state ORDER BY f.id)
    INTO n, ids, parents, states
    FROM new_rows f JOIN old_rows o ON o.id = f.id
   WHERE f.state IN ('succeeded', 'failed', 'cancelled') AND o.state NOT IN ('succeeded', 'failed', 'cancelled');
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

CREATE TRIGGER jobs_finished AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION notify_jobs_finished();
