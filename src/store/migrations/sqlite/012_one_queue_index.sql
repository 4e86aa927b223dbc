-- One index over the queue instead of two (issue 15: a submit and a claim each wrote an entry into both).
-- jobs_task_run_at (task, run_at) WHERE queued answered "the earliest run_at of a task" in one probe; jobs_claim
-- (task, priority DESC, run_at, id) WHERE queued answers it in one probe per distinct priority of the task (usually
-- one), through a skip over priorities (src/store/sqlite/jobs.ts, firstRunAt). Doctor's per-task queue figures and
-- the server's oldest runnable job read jobs_claim too (covering: task and run_at are in it). Plans checked in
-- test/sqlite-store.test.ts.
DROP INDEX jobs_task_run_at;
