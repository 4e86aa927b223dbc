import type { Command } from 'commander';
import { formatHangReport } from '../../forensics/format.js';
import { example, jsonOption, storeOption, withVigil, type StoreOptions } from '../common.js';
import { formatAttempt, formatJob, print, printJson } from '../output.js';

export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('show a job, its attempts and their hang reports')
    .argument('<id>', 'job id');
  jsonOption(cmd, '{ job, attempts } (hang reports included)');
  storeOption(cmd);
  example(cmd, 'vigil inspect 42', 'vigil inspect 42 --json');
  cmd.action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
    await withVigil(opts, async (vigil) => {
      const job = await vigil.get(id);
      const attempts = await vigil.attempts(id);
      if (opts.json) return printJson({ job, attempts });
      const parts = [formatJob(job)];
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
