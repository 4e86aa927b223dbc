-- Placeholder on the flow branch only: another branch owns migration 002. Drop this file at merge time when the
-- real 002 lands (stores created on this branch are test stores).
SELECT 1;
