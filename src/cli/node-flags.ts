/**
 * V8 flags for a process that runs a supervisor (`vigil worker`, `vigil serve`, the demo's workers). The supervisor
 * runs only Vigil's own code (tasks run in executor hosts, with their own flags), and it allocates briskly but keeps
 * little: with V8's default young generation (semi-spaces growing to 16 MiB) a worker draining no-op jobs at C=10 grew
 * to 163–177 MiB RSS, with 2 MiB semi-spaces 137–147 MiB, CPU per job within noise (bench/NOTES.md, "supervisor
 * RSS"). V8 sizes the young generation once, when the process starts, so the flag has to be on the command line:
 * `bin/vigil` passes the same flags (keep the two in step; a test checks it).
 */
export const SUPERVISOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
