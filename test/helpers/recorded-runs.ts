// Reads the run log that test/fixtures/group-commit-tasks.ts's `recorded` task appends to ("start|end jobId attempt
// pid ts" per line), so a test can check from outside the worker that no job ever ran twice at once.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

export interface Run {
  attempt: number;
  pid: number;
  start: number;
  end: number | null;
}

/** Runs by job id; asserts each attempt started once and ended only after its start. An absent file: no runs. */
export function runsOf(file: string): Map<string, Run[]> {
  const runs = new Map<string, Run[]>();
  if (!existsSync(file)) return runs;
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    if (!line) continue;
    const [what, jobId, attempt, pid, ts] = line.split(' ') as [string, string, string, string, string];
    const list = runs.get(jobId) ?? [];
    runs.set(jobId, list);
    if (what === 'start') {
      assert.ok(!list.some((r) => r.attempt === Number(attempt)), `attempt ${attempt} of job ${jobId} started twice`);
      list.push({ attempt: Number(attempt), pid: Number(pid), start: Number(ts), end: null });
    } else {
      const run = list.find((r) => r.attempt === Number(attempt));
      assert.ok(run, `job ${jobId} attempt ${attempt} ended without a start`);
      run.end = Number(ts);
    }
  }
  return runs;
}

/** The process exists (signal 0), whoever owns it. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
