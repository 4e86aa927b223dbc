import { readdirSync, readFileSync } from 'node:fs';
import { hostname, platform } from 'node:os';
import { formatHangReport } from '../forensics/format.js';
import { processTree, snapshotProcessesWithNotes } from '../forensics/proc-snapshot.js';
import { formatDuration } from '../task/duration.js';
import type { Attempt, AttemptSnapshot, HangReport, Job } from '../types.js';
import type { Vigil } from '../vigil.js';

const LOG_TAIL = 20;

/**
 * The fallback of `vigil inspect <id> --now` when no worker answered the snapshot request (see
 * forensics/snapshot-request.ts): where a running attempt is right now, without stopping it, read from this machine's
 * /proc: the programs of a command task carry VIGIL_JOB_ID and VIGIL_ATTEMPT in their environment, so they are
 * found without asking the worker. Null with the reason when that is not possible (another machine, a function
 * task, not running); nothing is changed or stored.
 */
/** A hang report's facts without an ending: nothing stopped the attempt. */
export type NowSnapshot = Omit<HangReport, 'kind'> & { attempt: number };

export async function snapshotNow(vigil: Vigil, job: Job, attempts: Attempt[]): Promise<{ report: NowSnapshot | null; why: string | null }> {
  if (job.state !== 'running') return { report: null, why: `job ${job.id} is ${job.state}: there is no running attempt to look at` };
  const current = [...attempts].reverse().find((a) => a.finishedAt === null);
  if (!current) return { report: null, why: `job ${job.id} has no running attempt yet` };
  if (platform() !== 'linux') return { report: null, why: '--now reads /proc, which this system does not have' };
  const host = current.workerId.split(':')[0];
  if (host !== hostname()) {
    return { report: null, why: `attempt ${current.attempt} runs on ${host}, not on this machine (${hostname()}): run vigil inspect ${job.id} --now there` };
  }
  const roots = findAttemptProcesses(job.id, current.attempt);
  if (roots.length === 0) {
    return {
      report: null,
      why: `no process of attempt ${current.attempt} found on this machine: --now sees the programs of command tasks (function tasks show their stack in the hang report Vigil takes before a timeout, stall or cancel)`,
    };
  }
  const started = Date.now();
  const pids = [...new Set(roots.flatMap((pid) => processTree(pid)))];
  const { processes, notes } = snapshotProcessesWithNotes(pids);
  const [now, tail] = await Promise.all([vigil.store.now(), vigil.logs(job.id, { tail: true, limit: LOG_TAIL, attempt: current.attempt })]);
  return {
    report: {
      attempt: current.attempt,
      capturedAt: started,
      elapsedMs: Math.max(0, now - current.startedAt),
      captureMs: Date.now() - started,
      lastHeartbeatAt: job.lastHeartbeatAt,
      progress: job.progress,
      logTail: tail.map((l) => `${new Date(l.ts).toISOString()} ${l.stream}: ${l.line}`),
      where: { processes, notes: ['read from /proc by vigil inspect --now because no worker answered: the attempt keeps running; nothing was stopped or stored', ...notes] },
    },
    why: null,
  };
}

/** Processes whose environment names this attempt, without their matching descendants (the tree adds those). */
function findAttemptProcesses(jobId: string, attempt: number): number[] {
  const wanted = [`VIGIL_JOB_ID=${jobId}`, `VIGIL_ATTEMPT=${attempt}`];
  const matching = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!wanted.every((w) => env.includes(w))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      matching.set(Number(entry), ppid);
    } catch {
      // Gone, or another user's process: not ours to read.
    }
  }
  return [...matching].filter(([, ppid]) => !matching.has(ppid)).map(([pid]) => pid);
}

/** The snapshot as text, in the hang report's layout. */
export function formatNow(report: NowSnapshot, heading = 'Right now'): string {
  // formatHangReport's first line names an ending kind; a look has none, so it gets its own heading.
  const body = formatHangReport({ ...report, kind: 'stalled' }).split('\n').slice(1).join('\n');
  return `${heading}: attempt ${report.attempt}, running for ${formatDuration(report.elapsedMs)} (taken in ${formatDuration(report.captureMs)}, nothing stopped)\n${body}`;
}

/** An earlier snapshot stored on an attempt, under that attempt in `inspect`. */
export function formatStoredSnapshot(attempt: number, snapshot: AttemptSnapshot): string {
  return formatNow({ ...snapshot, attempt }, `Snapshot taken ${new Date(snapshot.capturedAt).toISOString()}`);
}
