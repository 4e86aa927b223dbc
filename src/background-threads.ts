import type { ResourceLimits } from 'node:worker_threads';

/**
 * Limits for the supervisor's own background threads (the SQLite checkpointer, the retention sweeper, the watchdog),
 * which allocate little and keep less. V8 gives every thread young-generation semi-spaces sized for a busy heap; a
 * 1 MiB young generation cut each idle thread's RSS by ~1.5 MiB (11.5 → 10.0 MiB per thread, 4 threads measured),
 * and the supervisor's RSS is a target (issue 15: < 150 MiB draining 100,000 jobs). The old generation is left to
 * V8 where a thread may need room in a bad moment (the watchdog capturing a frozen supervisor's stacks).
 */
export const BACKGROUND_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 1 };

/** For a thread whose whole job is a few statements on a timer: a small old generation too (~0.8 MiB more saved). */
export const SMALL_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 };
