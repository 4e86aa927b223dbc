-- The processes each supervisor has started (command programs, ctx.exec programs, executor hosts, attempt
-- processes), so that survivors of a SIGKILLed supervisor are reaped by the next worker on the same machine.
-- One row per worker; `host` names the machine AND its pid namespace (pids mean nothing elsewhere), `boot_id`
-- the boot (after a reboot nothing survives). A root is { pid, start, pgid }: start is the process's start time
-- in clock ticks after boot, so a recycled pid is never signalled.
CREATE TABLE process_roots (
  worker_id   TEXT    PRIMARY KEY,
  host        TEXT    NOT NULL,
  boot_id     TEXT    NOT NULL,
  owner_pid   INTEGER NOT NULL,
  owner_start BIGINT  NOT NULL,
  roots       TEXT    NOT NULL,
  updated_at  BIGINT  NOT NULL
);
CREATE INDEX process_roots_host ON process_roots (host);
