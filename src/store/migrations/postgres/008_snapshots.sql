-- `vigil inspect <id> --now` / POST /api/jobs/:id/snapshot: a look inside a running attempt without stopping it.
-- The requester stamps the job (store clock); the worker holding the lease sees the stamp on its next lease renewal,
-- captures, stores the report on the attempt (the latest only) with the stamp it answered, and clears the stamp.
ALTER TABLE jobs ADD COLUMN snapshot_requested_at bigint;
ALTER TABLE attempts ADD COLUMN snapshot text; -- JSON AttemptSnapshot
