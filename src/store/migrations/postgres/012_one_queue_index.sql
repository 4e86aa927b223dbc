-- One index over the queue instead of two (issue 15: every submit inserted an entry into both). nextRunAt reads
-- jobs_claim (task, priority DESC, run_at, id) WHERE queued: a skip over a task's distinct priorities, then one
-- probe each (src/store/postgres/claim.ts, NEXT_RUN_AT; plan checked in test/postgres-store.test.ts).
DROP INDEX jobs_queued_run_at;
