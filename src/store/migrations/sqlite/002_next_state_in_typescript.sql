-- Vigil on SQLite, version 2: nothing to change. PostgreSQL's version 2 moved the next-state rules out of SQL
-- (src/store/next-state.ts); SQLite always decided them in TypeScript. Kept so a version number means the same
-- step on both stores.
SELECT 1;
