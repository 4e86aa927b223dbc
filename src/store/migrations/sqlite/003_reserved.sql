-- Placeholder on the server branch only: the migration numbered 003 belongs to another branch. DELETE THIS FILE at
-- merge (the real 003_*.sql takes its place).
SELECT 1;
