-- Cheaper claims and finishes (issue 15, SQLite C=1 drain). jobs_state_id (state, id) held every job, so each claim
-- (queued → running) and each finish (running → succeeded) deleted one entry and inserted another: four b-tree
-- writes per job and a dirty page more per transaction. Running jobs now stay out of it: a claim only removes the
-- queued entry, a finish only adds the final one. Running jobs are few (bounded by the workers' slots and prefetch)
-- and every read of them goes through jobs_lease, which holds exactly the running jobs.
-- Readers that want this index name `state <> 'running'` in their WHERE (SQLite uses a partial index only when the
-- query's WHERE contains its condition): counts(), list() by state; doctor's "late" and "parents" reads go through
-- jobs_deadline / jobs_lease (src/store/sqlite/ops.ts). Plans checked in test/sqlite-store.test.ts.
DROP INDEX jobs_state_id;
CREATE INDEX jobs_state_id ON jobs (state, id) WHERE state <> 'running';

-- jobs_run_at (run_at, priority) WHERE queued served one read, the oldest runnable job (server stats, readiness),
-- yet every enqueue inserted into it and every claim deleted from it. That read now walks jobs_task_run_at one
-- task at a time (the first run_at of each task: O(tasks × log n), src/store/sqlite/server-reads.ts).
DROP INDEX jobs_run_at;
