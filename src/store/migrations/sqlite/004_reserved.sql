-- Placeholder on the perf branch only: the migration numbered 004 belongs to another branch. DELETE THIS FILE at
-- merge (the real 004_*.sql takes its place).
SELECT 1;
