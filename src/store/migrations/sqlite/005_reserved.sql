-- Placeholder on the perf branch only: the migration numbered 005 belongs to another branch. DELETE THIS FILE at
-- merge (the real 005_*.sql takes its place).
SELECT 1;
