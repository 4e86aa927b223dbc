/**
 * V8 flags for a process that runs a supervisor (`vigil worker`, `vigil serve`, the demo's workers). The supervisor
 * runs only Vigil's own code (tasks run in executor hosts, with their own flags), and it allocates briskly but keeps
 * little: with V8's default young generation (semi-spaces growing to 16 MiB) a worker draining no-op jobs at C=10 grew
 * to 163–177 MiB RSS, with 2 MiB semi-spaces 137–147 MiB, CPU per job within noise (bench/NOTES.md, "supervisor
 * RSS"). Its old generation held ~10 MiB live yet grew to ~40 MiB between full collections (V8 lets it grow up to
 * 4× when collections are cheap): with growth capped at 1.5× (`--heap-growing-percent=50`) the worker's peak RSS
 * draining 100,000 jobs at C=10 was 127 MiB against 148, drain rates within noise (3 alternated pairs, bench/NOTES.md).
 * V8 sizes the young generation once, when the process starts, so the flags have to be on the command line:
 * `bin/vigil` passes the same flags (keep the two in step; a test checks it).
 */
export const SUPERVISOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=50'];
