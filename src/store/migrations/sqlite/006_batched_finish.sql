-- Nothing to change on SQLite: events are delivered in-process after commit (no NOTIFY). The number is kept in
-- step with PostgreSQL's 006 so both folders stay gapless.
SELECT 1;
