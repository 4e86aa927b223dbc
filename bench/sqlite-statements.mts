// CPU per job of each statement of the SQLite hot path (claim + finish, as a C=1 worker's group commits run them),
// on a store created by Vigil's own migrations, straight through better-sqlite3 — what a variant of one statement
// would buy, before touching the store. Uses the build (run `npm run build` first).
//
//   node --import tsx bench/sqlite-statements.mts [--jobs 40000] [--batch 8] [--variant base|narrow-finish|narrow-take|raw-take]
//
// narrow-*: RETURNING a few columns instead of * (the finish's and the claim's UPDATE); raw-take: the claim's row as
// an array (better-sqlite3 .raw()) instead of an object.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Vigil } from '../dist/src/vigil.js';

const { values: args } = parseArgs({
  options: { jobs: { type: 'string', default: '40000' }, batch: { type: 'string', default: '8' }, variant: { type: 'string', default: 'base' } },
});
const n = Number(args.jobs);
const batch = Number(args.batch);
const variant = args.variant!;
const dir = mkdtempSync(join(tmpdir(), 'vigil-stmts-'));
const file = join(dir, 'v.db');
const vigil = await Vigil.open({ store: `sqlite:${file}`, tasks: new URL('../dist/bench/tasks.js', import.meta.url).pathname });
const retry = { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 };
for (let i = 0; i < n; i += 1000) await vigil.store.enqueue(Array.from({ length: Math.min(1000, n - i) }, () => ({ task: 'bench.noop', input: {}, retry })));
await vigil.close();

// The statements of src/store/sqlite/claim.ts and attempts.ts (finishSucceeded), with the store's pragmas.
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
const FENCED = `id = @jobId AND state = 'running' AND attempts = @attempt AND lease_owner = @workerId AND lease_expires_at > @now`;
const candidates = db.prepare(`SELECT id, task, priority, run_at FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND task = @task AND run_at <= @now
  AND (deadline_at IS NULL OR deadline_at > @now) ORDER BY priority DESC, run_at, id LIMIT @n`);
const take = db.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = @workerId, lease_expires_at = @expires,
  started_at = @now, updated_at = @now, finished_at = NULL, last_heartbeat_at = NULL, progress = NULL, wait_reason = NULL, held = @held
  WHERE id = @id AND state = 'queued' RETURNING ${variant === 'narrow-take' ? 'id, attempts' : '*'}`);
if (variant === 'raw-take') take.raw(true);
const attemptRow = db.prepare('INSERT INTO attempts (job_id, attempt, worker_id, started_at, charged) VALUES (?, ?, ?, ?, 1)');
const finish = db.prepare(`UPDATE jobs SET state = 'succeeded', result = @result, error = NULL, charged_attempts = charged_attempts + 1,
  finished_at = @now, updated_at = @now, lease_owner = NULL, lease_expires_at = NULL WHERE ${FENCED}
  RETURNING ${variant === 'narrow-finish' ? 'id, state, task, parent_id' : '*'}`);
const endAttempt = db.prepare(`UPDATE attempts SET finished_at = @now, outcome = @outcome, charged = @charged, error = @error,
  hang_report = @hangReport WHERE job_id = @jobId AND attempt = @attempt AND finished_at IS NULL`);
const begin = db.prepare('BEGIN IMMEDIATE');
const commit = db.prepare('COMMIT');

const ns = { candidates: 0n, take: 0n, attemptRow: 0n, finish: 0n, endAttempt: 0n, begin: 0n, commit: 0n };
const timed = <T>(k: keyof typeof ns, f: () => T): T => {
  const t0 = process.hrtime.bigint();
  const v = f();
  ns[k] += process.hrtime.bigint() - t0;
  return v;
};
let running: Array<{ id: number; attempts: number }> = [];
const cpu0 = process.cpuUsage();
for (let done = 0; done < n; done += batch) {
  const now = Date.now();
  timed('begin', () => begin.run());
  // The finishes of the previous claim and the claim that refills: one transaction, as the group commit writes them.
  for (const r of running) {
    timed('finish', () => finish.get({ jobId: r.id, attempt: r.attempts, workerId: 'w1', now, result: '{"startedAt":1}' }));
    timed('endAttempt', () => endAttempt.run({ now, jobId: r.id, attempt: r.attempts, outcome: 'succeeded', charged: 1, error: null, hangReport: null }));
  }
  const found = timed('candidates', () => candidates.all({ task: 'bench.noop', now, n: batch }) as Array<{ id: number }>);
  running = [];
  for (const c of found) {
    const got = timed('take', () => take.get({ id: c.id, workerId: 'w1', expires: now + 30_000, now, held: 0 }));
    const row = Array.isArray(got) ? { id: got[0] as number, attempts: got[6] as number } : (got as { id: number; attempts: number });
    timed('attemptRow', () => attemptRow.run(row.id, row.attempts, 'w1', now));
    running.push(row);
  }
  timed('commit', () => commit.run());
}
const cpu = process.cpuUsage(cpu0);
db.close();
rmSync(dir, { recursive: true, force: true });
const per = (v: bigint): number => Math.round(Number(v) / 100 / n) / 10;
console.log(JSON.stringify({ variant, batch, jobs: n, cpuUsPerJob: Math.round((cpu.user + cpu.system) / n), usPerJob: Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, per(v)])) }));
