import type { HangReport, ProcessSnapshot, StackFrame } from '../types.js';

/** A hang report as text for people (`vigil inspect`, the dashboard's plain view). Sections without facts are left out. */
export function formatHangReport(report: HangReport): string {
  const lines: string[] = [];
  lines.push(
    `Hang report (${report.kind}) after ${duration(report.elapsedMs)}, captured at ${iso(report.capturedAt)} in ${duration(report.captureMs)}`,
  );
  const heartbeat = report.lastHeartbeatAt === null ? 'never' : `${iso(report.lastHeartbeatAt)} (${duration(report.capturedAt - report.lastHeartbeatAt)} before capture)`;
  lines.push(`  last heartbeat: ${heartbeat}`);
  if (report.progress) {
    const p = report.progress;
    const amount = p.done !== undefined && p.total !== undefined ? `${p.done}/${p.total}` : p.fraction !== null ? `${Math.round(p.fraction * 100)}%` : '?';
    lines.push(`  last progress: ${amount}${p.message ? ` — ${p.message}` : ''}`);
  }
  const where = report.where;
  if (where.stack && where.stack.length > 0) {
    lines.push('', 'Stack (innermost first):');
    for (const frame of where.stack) lines.push(`  at ${frameText(frame)}`);
  } else if (where.stack) {
    lines.push('', 'Stack: empty (no JS was running)');
  }
  if (where.asyncStack && where.asyncStack.length > 0) {
    lines.push('', 'Async stack:');
    for (const frame of where.asyncStack) lines.push(`  at ${frameText(frame)}`);
  }
  if (where.pendingResources) {
    lines.push('', where.pendingResources.length > 0 ? 'Pending async resources:' : 'Pending async resources: none');
    for (const r of where.pendingResources) lines.push(`  - ${r.type}: ${r.description}`);
  }
  if (where.processes && where.processes.length > 0) {
    lines.push('', 'Processes:', ...processTable(where.processes));
  }
  if (where.notes.length > 0) {
    lines.push('', 'Notes:');
    for (const note of where.notes) lines.push(`  - ${note}`);
  }
  if (report.logTail.length > 0) {
    lines.push('', `Last ${report.logTail.length} log line${report.logTail.length === 1 ? '' : 's'}:`);
    for (const line of report.logTail) lines.push(`  | ${line}`);
  }
  return lines.join('\n');
}

function frameText(f: StackFrame): string {
  return `${f.functionName || '(anonymous)'} (${f.file}:${f.line}:${f.column})`;
}

function processTable(processes: ProcessSnapshot[]): string[] {
  const rows = processes.map((p) => [String(p.pid), String(p.ppid), p.state ?? '?', p.wchan ?? '-', p.syscall ?? '-', p.blockedOn ?? '-', p.command]);
  const header = ['PID', 'PPID', 'STATE', 'WCHAN', 'SYSCALL', 'BLOCKED ON', 'COMMAND'];
  // The last two columns are free text: only the short ones are padded.
  const widths = header.slice(0, 5).map((h, i) => Math.min(24, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const render = (cells: string[]): string =>
    `  ${cells
      .slice(0, 5)
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')}  ${cells[5]}  ${truncate(cells[6]!, 120)}`;
  const out = [render(header)];
  for (const [i, p] of processes.entries()) {
    out.push(render(rows[i]!));
    const threads = p.threads ?? [];
    // Only threads that are doing something other than the process itself say something new.
    const telling = threads.filter((t) => t.tid !== p.pid && t.syscall && !/^(futex|epoll_wait|epoll_pwait|epoll_pwait2)$/.test(t.syscall));
    for (const t of telling.slice(0, 8)) {
      const blocked = (t as { blockedOn?: string }).blockedOn;
      out.push(`      thread ${t.tid}${t.name ? ` (${t.name})` : ''}: ${t.state ?? '?'} ${t.wchan ?? '-'} ${t.syscall}${blocked ? ` — ${blocked}` : ''}`);
    }
    if (threads.length > 1) out.push(`      (${threads.length} threads${telling.length < threads.length - 1 ? '; the others idle in futex/epoll waits' : ''})`);
    for (const t of p.pythonStack ?? []) {
      out.push(`      Python thread ${t.thread}${t.current ? ' (current)' : ''}, innermost first:`);
      for (const f of t.frames.slice(0, 20)) out.push(`        File "${f.file}", line ${f.line}, in ${f.functionName}`);
    }
  }
  return out;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
