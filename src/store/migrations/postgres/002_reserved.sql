-- Placeholder on the server branch only: the migration numbered 002 belongs to another branch. DELETE THIS FILE at
-- merge (the real 002_*.sql takes its place).
SELECT 1;
