import { formatDuration } from '../task/duration.js';
import type { Attempt, Job } from '../types.js';
import type { Vigil } from '../vigil.js';

/** What a running or queued job is doing right now: the view a user needs before any timeout fires. */
export interface LiveLook {
  /** Store clock, ms. */
  now: number;
  attempt?: { number: number; runningMs: number; timeoutMs: number | null; timeLeftMs: number | null };
  lastOutput?: { line: string; stream: string; agoMs: number } | null;
  /** Why a queued job will not start (no live worker serves its task), or null. */
  waiting?: string | null;
}

export async function liveLook(vigil: Vigil, job: Job, attempts?: Attempt[]): Promise<LiveLook | null> {
  if (job.state === 'queued') {
    return { now: await vigil.store.now(), waiting: await vigil.noWorkerWarning(job.task) };
  }
  if (job.state !== 'running') return null;
  const [now, all, known, tail] = await Promise.all([
    vigil.store.now(),
    attempts ?? vigil.attempts(job.id),
    vigil.store.knownTasks(),
    vigil.logs(job.id, { tail: true, limit: 1 }),
  ]);
  const current = [...all].reverse().find((a) => a.finishedAt === null);
  const look: LiveLook = { now };
  if (current) {
    const options = known.find((t) => t.name === job.task)?.options as { timeoutMs?: unknown } | null | undefined;
    const timeoutMs = typeof options?.timeoutMs === 'number' ? options.timeoutMs : null;
    const runningMs = Math.max(0, now - current.startedAt);
    look.attempt = { number: current.attempt, runningMs, timeoutMs, timeLeftMs: timeoutMs === null ? null : Math.max(0, timeoutMs - runningMs) };
  }
  const last = tail[tail.length - 1];
  look.lastOutput = last && (!current || last.attempt === current.attempt) ? { line: last.line, stream: last.stream, agoMs: Math.max(0, now - last.ts) } : null;
  return look;
}

/** Labelled lines to print under the job; empty when there is nothing live to say. */
export function formatLive(look: LiveLook | null): string[] {
  if (!look) return [];
  const out: string[] = [];
  if (look.waiting) out.push(`waiting    ${look.waiting}`);
  if (look.attempt) {
    const a = look.attempt;
    const left = a.timeoutMs === null ? '' : `; timeout ${formatDuration(a.timeoutMs)}, ${formatDuration(a.timeLeftMs!)} left`;
    out.push(`now        attempt ${a.number} running for ${formatDuration(a.runningMs)}${left}`);
  }
  if (look.lastOutput === null) out.push('output     none yet from this attempt');
  else if (look.lastOutput) out.push(`output     ${formatDuration(look.lastOutput.agoMs)} ago (${look.lastOutput.stream}): ${cut(look.lastOutput.line)}`);
  return out;
}

function cut(line: string, max = 200): string {
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
