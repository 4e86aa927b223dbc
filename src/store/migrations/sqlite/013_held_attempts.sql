-- Prefetched attempts (issue 15's known gap): a worker claims a few jobs ahead into its prefetch buffer, and when it
-- was SIGKILLed those jobs were recovered as crashed and CHARGED, though they never started (with maxAttempts 1 they
-- failed without having run). `held` says the attempt was claimed into the buffer and no lease renewal has said it
-- started since; recovery ends a held attempt uncharged, at most held_recoveries < HELD_RECOVERIES_MAX times per job
-- (src/store/store-errors.ts: a start is recorded only at the next renewal).
ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN held_recoveries INTEGER NOT NULL DEFAULT 0;
