import { formatDuration } from '../task/duration.js';
import type { Attempt, Job, Json, Progress, SerializedError } from '../types.js';

/** Everything the CLI prints as data goes through here, so text and JSON stay in step. */

export function printJson(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string, out: NodeJS.WritableStream = process.stdout): void {
  out.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJob(job: Job, json: boolean | undefined): void {
  if (json) printJson(job);
  else print(formatJob(job));
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function ago(ms: number, now = Date.now()): string {
  const d = Math.max(0, now - ms);
  return `${formatDuration(d)} ago`;
}

export function formatProgress(p: Progress | null): string | null {
  if (!p) return null;
  const amount = p.done !== undefined && p.total !== undefined ? `${p.done}/${p.total}` : p.fraction !== null ? `${Math.round(p.fraction * 100)}%` : '';
  return [amount, p.message].filter(Boolean).join(' — ') || null;
}

export function formatError(e: SerializedError): string {
  return `${e.kind}: ${e.message}`;
}

/** A compact one-line JSON for results in text output; long values are cut (use --json for all of it). */
export function briefJson(value: Json, max = 400): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars; use --json for all of it)` : text;
}

/** The job as labelled lines: what `status`, `cancel`, `retry` and `run` print without --json. */
export function formatJob(job: Job, now = Date.now()): string {
  const rows: Array<[string, string | null]> = [
    ['job', `${job.id}  ${job.task}  ${job.state}${job.cancelRequested && job.state === 'running' ? ' (cancel requested)' : ''}`],
    ['attempts', `${job.attempts} (${job.chargedAttempts} charged, max ${job.maxAttempts})`],
    ['parent', job.parentId],
    ['key', job.idempotencyKey ?? job.childKey],
    ['created', `${iso(job.createdAt)} (${ago(job.createdAt, now)})`],
    ['waiting', job.state === 'queued' && job.waitReason ? `${job.waitReason}${job.runAt > now ? `: next slot in ${formatDuration(job.runAt - now)}` : ''}` : null],
    ['runs at', job.state === 'queued' && job.runAt > now ? `${iso(job.runAt)} (in ${formatDuration(job.runAt - now)})` : null],
    ['started', job.startedAt === null ? null : iso(job.startedAt)],
    ['finished', job.finishedAt === null ? null : `${iso(job.finishedAt)}${job.startedAt === null ? '' : ` (took ${formatDuration(job.finishedAt - job.startedAt)})`}`],
    ['deadline', job.deadlineAt === null ? null : iso(job.deadlineAt)],
    ['heartbeat', job.lastHeartbeatAt === null ? null : `${iso(job.lastHeartbeatAt)} (${ago(job.lastHeartbeatAt, now)})`],
    ['progress', formatProgress(job.progress)],
    ['result', job.state === 'succeeded' ? briefJson(job.result) : null],
    ['error', job.error ? formatError(job.error) : null],
  ];
  return labelled(rows);
}

export function formatAttempt(a: Attempt): string {
  const took = a.finishedAt === null ? '' : `  took ${formatDuration(a.finishedAt - a.startedAt)}`;
  const head = `attempt ${a.attempt}  ${a.outcome ?? 'running'}${took}${a.charged ? '' : '  (not charged)'}`;
  return labelled([
    ['', head],
    ['worker', a.workerId],
    ['started', iso(a.startedAt)],
    ['finished', a.finishedAt === null ? null : iso(a.finishedAt)],
    ['error', a.error ? formatError(a.error) : null],
  ]);
}

function labelled(rows: Array<[string, string | null]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => (k === '' ? v! : `${k.padEnd(width)}  ${v}`))
    .join('\n');
}

/** A plain aligned table; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
