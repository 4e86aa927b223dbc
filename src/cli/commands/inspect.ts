import type { Command } from 'commander';
import { formatHangReport } from '../../forensics/format.js';
import { example, jsonOption, storeOption, withExistingStore, type StoreOptions } from '../common.js';
import { formatLive, liveLook } from '../live.js';
import { formatNow, snapshotNow } from '../now.js';
import { formatAttempt, formatJob, print, printJson } from '../output.js';

export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('show a job, its attempts and their hang reports')
    .argument('<id>', 'job id');
  cmd.option('--now', 'also show where the running attempt is right now (its process tree from /proc), without stopping it; command tasks, on the machine that runs them');
  jsonOption(cmd, '{ job, attempts, live, now } (hang reports included)');
  storeOption(cmd);
  example(cmd, 'vigil inspect 42', 'vigil inspect 42 --now', 'vigil inspect 42 --json');
  cmd.action(async (id: string, opts: StoreOptions & { json?: boolean; now?: boolean }) => {
    await withExistingStore(opts, async (vigil) => {
      const job = await vigil.get(id);
      const attempts = await vigil.attempts(id);
      const live = await liveLook(vigil, job, attempts);
      const now = opts.now ? await snapshotNow(vigil, job, attempts) : null;
      if (opts.json) return printJson({ job, attempts, live, ...(now ? { now: now.report, nowUnavailable: now.why } : {}) });
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
      }
      if (now?.report) parts.push(`\n${formatNow(now.report)}`);
      else if (now?.why) parts.push(`\nRight now: ${now.why}`);
      print(parts.join('\n'));
    });
  });
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
