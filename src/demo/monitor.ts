import type { Store } from '../store/contract.js';
import type { Attempt, Job, StackFrame } from '../types.js';
import { TERMINAL_STATES } from '../types.js';
import type { FaultName } from './plan.js';

/**
 * Follows one demo run through the store alone: the worker is another process, and the store is the one place its
 * work is visible from here. Each poll reads the parents and their children; attempts are read only for jobs whose
 * attempt count or state changed, so a poll stays a handful of queries.
 */

export interface TrackRef {
  name: string;
  jobId: string;
  windows: number;
}

export interface TrackProgress {
  name: string;
  parent: Job | null;
  windows: number;
  succeeded: number;
  failed: number;
  running: number;
}

export type DemoEvent =
  | { type: 'attempt-failed'; track: string; window: number | null; jobId: string; attempt: Attempt; retrying: boolean; hang: StackFrame | null }
  | { type: 'prompt-answered'; track: string; window: number; jobId: string; ms: number; lastLine: string }
  | { type: 'track-done'; track: string; job: Job };

export interface Snapshot {
  tracks: TrackProgress[];
  /** Every job of the run (parents and windows). */
  jobs: Job[];
}

export function isTerminal(job: Job): boolean {
  return TERMINAL_STATES.includes(job.state);
}

export function windowIndex(job: Job): number | null {
  const m = /^window-(\d+)$/.exec(job.childKey ?? '');
  return m ? Number(m[1]) : null;
}

/** The frame a person wants to see: the innermost one with a name in the task code, else the innermost. */
export function hangFrame(attempt: Attempt): StackFrame | null {
  const stack = attempt.hangReport?.where.stack ?? [];
  return stack.find((f) => f.functionName && !f.file.startsWith('node:')) ?? stack[0] ?? null;
}

export class RunMonitor {
  private readonly seen = new Map<string, { state: string; attempts: number }>();
  private readonly reported = new Set<string>();
  private readonly doneTracks = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly tracks: TrackRef[],
    private readonly faultOf: (track: string, window: number) => FaultName | undefined,
  ) {}

  async poll(): Promise<{ snapshot: Snapshot; events: DemoEvent[] }> {
    const parents = await this.store.getMany(this.tracks.map((t) => t.jobId));
    const byId = new Map(parents.map((p) => [p.id, p]));
    const events: DemoEvent[] = [];
    const jobs: Job[] = [...parents];
    const progress: TrackProgress[] = [];
    for (const track of this.tracks) {
      const parent = byId.get(track.jobId) ?? null;
      const children = await this.store.children(track.jobId);
      jobs.push(...children);
      progress.push({
        name: track.name,
        parent,
        windows: Math.max(track.windows, children.length),
        succeeded: children.filter((c) => c.state === 'succeeded').length,
        failed: children.filter((c) => c.state === 'failed' || c.state === 'cancelled').length,
        running: children.filter((c) => c.state === 'running').length,
      });
      for (const job of parent ? [parent, ...children] : children) events.push(...(await this.changes(track.name, job)));
      if (parent && isTerminal(parent) && !this.doneTracks.has(track.name)) {
        this.doneTracks.add(track.name);
        events.push({ type: 'track-done', track: track.name, job: parent });
      }
    }
    return { snapshot: { tracks: progress, jobs }, events };
  }

  private async changes(track: string, job: Job): Promise<DemoEvent[]> {
    const before = this.seen.get(job.id);
    if (before && before.state === job.state && before.attempts === job.attempts) return [];
    this.seen.set(job.id, { state: job.state, attempts: job.attempts });
    const window = windowIndex(job);
    const events: DemoEvent[] = [];
    const fault = window === null ? undefined : this.faultOf(track, window);
    // Only jobs that had trouble (or are known to misbehave) cost an attempts read.
    if (job.attempts > 1 || job.state === 'failed' || (job.state === 'queued' && job.error) || fault) {
      for (const a of await this.store.attempts(job.id)) {
        const key = `${job.id}:${a.attempt}`;
        if (a.outcome === null || a.outcome === 'succeeded' || this.reported.has(key)) continue;
        this.reported.add(key);
        const retrying = job.state !== 'failed' && job.state !== 'cancelled' && !(job.state === 'succeeded' && a.attempt === job.attempts);
        events.push({ type: 'attempt-failed', track, window, jobId: job.id, attempt: a, retrying, hang: hangFrame(a) });
      }
    }
    if (fault === 'prompt' && job.state === 'succeeded' && window !== null && !this.reported.has(`${job.id}:prompt`)) {
      this.reported.add(`${job.id}:prompt`);
      const ext = (job.result as { externalProgram?: { ms: number; stdout: string } } | null)?.externalProgram;
      if (ext) events.push({ type: 'prompt-answered', track, window, jobId: job.id, ms: ext.ms, lastLine: ext.stdout.split('\n').at(-1) ?? '' });
    }
    return events;
  }
}
