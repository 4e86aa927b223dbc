-- attempts.job_id and logs.job_id referenced jobs (id) with a foreign key. Its check runs on every row inserted into
-- either table: one SPI query per row (SELECT 1 FROM jobs … FOR KEY SHARE), which also locks the job's row. Every
-- claim inserts an attempt row per job, so a drain paid it on every job — a quarter of the backends' CPU in a perf
-- profile of a C=10 drain (bench/NOTES.md, session 2026-12-01 morning), for rows that can not be orphans: an
-- attempt is inserted by the statement that claims its job (the row it just updated), a log line by the fenced
-- statement that bumps its running attempt, and only finished jobs are ever deleted.
--
-- What the key did that is still wanted, deleting a job's attempts and logs with it, is done by a statement-level
-- trigger: one DELETE per table per statement that deleted jobs (retention, or a DBA's DELETE), whoever issued it.

ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_job_id_fkey;
ALTER TABLE logs DROP CONSTRAINT IF EXISTS logs_job_id_fkey;

CREATE FUNCTION jobs_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  DELETE FROM attempts a USING gone WHERE a.job_id = gone.id;
  DELETE FROM logs l USING gone WHERE l.job_id = gone.id;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_deleted();
