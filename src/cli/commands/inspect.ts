import type { Command } from 'commander';
import { formatHangReport } from '../../forensics/format.js';
import { example, jsonOption, storeOption, withExistingStore, type StoreOptions } from '../common.js';
import { formatLive, liveLook } from '../live.js';
import { SnapshotTimeoutError } from '../../errors.js';
import { parseDuration } from '../../task/duration.js';
import type { Vigil } from '../../vigil.js';
import { formatNow, formatStoredSnapshot, snapshotNow, type NowSnapshot } from '../now.js';
import { formatAttempt, formatJob, print, printJson } from '../output.js';

export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('show a job, its attempts and their hang reports')
    .argument('<id>', 'job id');
  cmd.option(
    '--now',
    'also show where the running attempt is right now, without stopping it: its worker takes a hang report (stack, process tree) and stores it on the attempt as its snapshot; exit 2 when the job is not running',
  );
  cmd.option('--now-timeout <duration>', 'how long --now waits for the worker to answer (if none does, a command task is read from /proc on this machine instead)', '10s');
  jsonOption(cmd, '{ job, attempts, live, now, nowSource } (hang reports and snapshots included)');
  storeOption(cmd);
  example(cmd, 'vigil inspect 42', 'vigil inspect 42 --now', 'vigil inspect 42 --json');
  cmd.action(async (id: string, opts: StoreOptions & { json?: boolean; now?: boolean; nowTimeout: string }) => {
    await withExistingStore(opts, async (vigil) => {
      // First, so the attempts read below already carry the new snapshot.
      const now = opts.now ? await lookNow(vigil, id, parseDuration(opts.nowTimeout, '--now-timeout')) : null;
      const job = await vigil.get(id);
      const attempts = await vigil.attempts(id);
      const live = await liveLook(vigil, job, attempts);
      if (opts.json) return printJson({ job, attempts, live, ...(now ? { now: now.report, nowSource: now.source } : {}) });
      const parts = [formatJob(job), ...formatLive(live)];
      const children = await vigil.children(id);
      if (children.length > 0) {
        const byState = new Map<string, number>();
        for (const c of children) byState.set(c.state, (byState.get(c.state) ?? 0) + 1);
        parts.push(`children  ${children.length}: ${[...byState].map(([s, n]) => `${n} ${s}`).join(', ')} (vigil jobs --parent ${id})`);
      }
      if (attempts.length === 0) parts.push('no attempts yet');
      // A learned timeout (timeout: { auto: true }) says where its value came from in a system log line per attempt.
      const learned = new Map<number, string>();
      if (attempts.length > 0) {
        for (const l of await vigil.logs(id, { limit: 20_000 })) if (l.stream === 'system' && l.line.startsWith('timeout ') && !learned.has(l.attempt)) learned.set(l.attempt, l.line);
      }
      for (const a of attempts) {
        parts.push(`\n${formatAttempt(a)}`);
        const timeout = learned.get(a.attempt);
        if (timeout) parts.push(`    ${timeout}`);
        if (a.error?.stack) parts.push(indent(a.error.stack));
        if (a.hangReport) parts.push(`\n${indent(formatHangReport(a.hangReport))}`);
        const fresh = now?.source === 'worker' && now.report.attempt === a.attempt && now.report.capturedAt === a.snapshot?.capturedAt;
        if (a.snapshot && !fresh) parts.push(`\n${indent(formatStoredSnapshot(a.attempt, a.snapshot))}`);
      }
      if (now?.fallbackWhy) parts.push(`\n${now.fallbackWhy}`);
      if (now) parts.push(`\n${formatNow(now.report)}`);
      print(parts.join('\n'));
    });
  });
}

/**
 * Asks the attempt's worker for a snapshot (it answers at its next lease renewal). If none answers in time, a
 * command task on this machine can still be read from /proc, said so; otherwise the timeout stands.
 */
async function lookNow(vigil: Vigil, id: string, timeoutMs: number): Promise<{ report: NowSnapshot; source: 'worker' | 'proc'; fallbackWhy: string | null }> {
  try {
    const taken = await vigil.snapshot(id, { timeoutMs });
    return { report: { ...taken.snapshot, attempt: taken.attempt }, source: 'worker', fallbackWhy: null };
  } catch (err) {
    if (!(err instanceof SnapshotTimeoutError)) throw err;
    const job = await vigil.get(id);
    const fallback = await snapshotNow(vigil, job, await vigil.attempts(id));
    if (!fallback.report) throw err;
    return { report: fallback.report, source: 'proc', fallbackWhy: `${err.message}. Read from /proc on this machine instead (processes only, not stored):` };
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
