-- A cheaper submit (issue 15, SQLite enqueue one by one). jobs_parent_child_key held every job, roots included (their
-- (NULL, NULL) entries can never conflict: SQLite's UNIQUE treats NULLs as distinct), so every submit wrote one more
-- b-tree entry than it needed. Only children with a key are looked up by it (src/store/sqlite/jobs.ts, `parent_id = ?
-- AND child_key = ?`, which implies the index's condition, so SQLite still uses it: plan checked in
-- test/sqlite-store.test.ts). PostgreSQL's index has been partial since its first migration.
DROP INDEX jobs_parent_child_key;
CREATE UNIQUE INDEX jobs_parent_child_key ON jobs (parent_id, child_key) WHERE parent_id IS NOT NULL AND child_key IS NOT NULL;
