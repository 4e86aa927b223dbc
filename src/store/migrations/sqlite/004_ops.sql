-- Operations (vigil doctor, /readyz, metrics): true worker liveness and the watchdog's record of supervisor freezes.

-- A worker is lost when it has been silent longer than its lease and its report interval (plus a margin): both
-- are recorded, since workers of one store may run with different leases.
ALTER TABLE workers ADD COLUMN lease_ms INTEGER;
ALTER TABLE workers ADD COLUMN report_every_ms INTEGER;

CREATE TABLE supervisor_freezes (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  worker_id   TEXT    NOT NULL,
  hostname    TEXT    NOT NULL,
  pid         INTEGER NOT NULL,
  detected_at INTEGER NOT NULL,
  blocked_ms  INTEGER NOT NULL,
  stack       TEXT    NOT NULL, -- JSON StackFrame[]
  notes       TEXT    NOT NULL, -- JSON string[]
  action      TEXT    NOT NULL CHECK (action IN ('logged', 'restart'))
);
CREATE INDEX supervisor_freezes_detected ON supervisor_freezes (detected_at);

-- Recent hang outcomes by task and kind, without scanning every attempt ever run.
CREATE INDEX attempts_finished ON attempts (finished_at) WHERE outcome IS NOT NULL AND outcome <> 'succeeded';
