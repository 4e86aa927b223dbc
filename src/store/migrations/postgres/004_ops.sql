-- Operations (vigil doctor, /readyz, metrics): true worker liveness and the watchdog's record of supervisor freezes.

-- A worker is lost when it has been silent longer than its lease and its report interval (plus a margin): both
-- are recorded, since workers of one store may run with different leases. `tasks`: what it serves, so doctor can
-- tell queued jobs that no live worker will ever claim.
ALTER TABLE workers ADD COLUMN lease_ms integer;
ALTER TABLE workers ADD COLUMN report_every_ms integer;
ALTER TABLE workers ADD COLUMN tasks text NOT NULL DEFAULT '[]';

CREATE TABLE supervisor_freezes (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  worker_id   text    NOT NULL,
  hostname    text    NOT NULL,
  pid         integer NOT NULL,
  detected_at bigint  NOT NULL,
  blocked_ms  bigint  NOT NULL,
  stack       text    NOT NULL, -- JSON StackFrame[]
  notes       text    NOT NULL, -- JSON string[]
  action      text    NOT NULL CHECK (action IN ('logged', 'restart'))
);
CREATE INDEX supervisor_freezes_detected ON supervisor_freezes (detected_at);

-- Recent hang outcomes by task and kind, without scanning every attempt ever run.
CREATE INDEX attempts_finished ON attempts (finished_at) WHERE outcome IS NOT NULL AND outcome <> 'succeeded';
