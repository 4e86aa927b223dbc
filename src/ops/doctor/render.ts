import type { CheckStatus, DoctorReport } from './report.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** The report for people: one line per check, details indented under it, and what to do for every finding. */
export function renderReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const indent = ' '.repeat(width + 8);
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]}  ${c.id.padEnd(width)}  ${c.summary}`);
    for (const d of c.details) lines.push(`${indent}${d}`);
    if (c.action) lines.push(`${indent}→ ${c.action}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail');
  const warned = report.checks.filter((c) => c.status === 'warn');
  lines.push(
    '',
    failed.length
      ? `${failed.length} finding(s) need a human: ${failed.map((c) => c.id).join(', ')}`
      : `healthy${warned.length ? ` (${warned.length} warning(s): ${warned.map((c) => c.id).join(', ')})` : ''}`,
  );
  return lines.join('\n');
}
