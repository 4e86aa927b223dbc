-- Vigil on PostgreSQL, version 2.
-- A job's next state is decided in one TypeScript function (src/store/next-state.ts, DESIGN G9) that both stores
-- apply with fenced writes; the SQL copies of its error builders, which had to be kept in step by hand, go.
-- Workers of a version that still calls them must be stopped before a newer one migrates the schema.
DROP FUNCTION deadline_error(bigint, bigint, text, text, text);
DROP FUNCTION cancelled_error(text);
DROP FUNCTION iso_ms(bigint);

-- nextRunAt (an idle worker asks when to wake up): the earliest queued run_at of each task is the first entry of
-- this index, instead of a scan of every queued job of those tasks.
CREATE INDEX jobs_queued_run_at ON jobs (task, run_at) WHERE state = 'queued';
