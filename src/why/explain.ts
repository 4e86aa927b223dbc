import type { Store, WorkerRecord } from '../store/contract.js';
import type { TaskMap } from '../task/registry.js';
import { formatDuration } from '../task/duration.js';
import { JobNotFoundError } from '../errors.js';
import { TERMINAL_STATES, type Job, type JobState } from '../types.js';

/**
 * `vigil why <id>`: one answer to "why is this job not running / not finished", read from the store alone (no
 * worker needs to be asked), so the CLI, the API and the dashboard give the same answer.
 *
 * The causes, checked in this order for a queued job (the first that holds is THE answer, because it is what
 * the claim would stop at): not due yet (retry backoff, delay), rate limit or task pause (the store's waitReason
 * and flow state), no live worker serves the task, the task's concurrency cap is held by running jobs, the
 * workers' slots are all busy, queued behind N jobs that come first. A running job: its lease held by a lost
 * worker, waiting on children (recursively, down the wait-for graph), or simply running.
 */
export type WhyCode =
  | 'finished'
  | 'running'
  | 'lease-lost'
  | 'waiting-children'
  | 'retry-backoff'
  | 'delayed'
  | 'rate-limited'
  | 'paused'
  | 'no-worker'
  | 'concurrency-cap'
  | 'workers-busy'
  | 'queued-behind'
  | 'ready'
  | 'deadline-passed'
  | 'cancel-requested'
  | 'cycle'
  | 'depth-limit';

export interface WhyAnswer {
  jobId: string;
  task: string;
  state: JobState;
  code: WhyCode;
  /** The answer in words, one sentence. */
  summary: string;
  /** Until when the cause holds, when that is known (store clock, epoch ms). */
  until?: number;
  /** Jobs named by the cause (the cap's holders, the jobs ahead). */
  jobs?: string[];
  /** For `waiting-children`: k of n done, and the same answer for each unfinished child. */
  children?: { done: number; total: number; waiting: WhyAnswer[] };
  /**
   * For a job that waits on children: the leaf the tree can not get past without help (no worker, a lost lease,
   * a passed deadline) or the cycle, named once at the top.
   */
  deadEnd?: { jobId: string; code: WhyCode; summary: string };
}

export interface ExplainOptions {
  /** Task definitions (caps, options) when the caller has the tasks module; otherwise what workers announced. */
  tasks?: TaskMap | null;
  /** A worker not seen for this long is considered gone. Default 30 s (workers report every 5 s). */
  liveWithinMs?: number;
  /** How deep the wait-for graph is followed. Default 20. */
  maxDepth?: number;
  /** Unfinished children explained per parent (the rest are counted). Default 20. */
  maxChildren?: number;
}

/** Causes a tree can not get past on its own: worth naming at the top of the answer. */
const DEAD_ENDS: readonly WhyCode[] = ['no-worker', 'lease-lost', 'deadline-passed', 'cycle'];
const SCAN = 1_000;

interface Facts {
  now: number;
  workers: WorkerRecord[];
  caps: Map<string, number | null>;
  pauses: Array<{ task: string; until: number; reason: string }>;
  live: (w: WorkerRecord) => boolean;
}

export async function explainJob(store: Store, id: string, options: ExplainOptions = {}): Promise<WhyAnswer> {
  const job = await store.get(id);
  if (!job) throw new JobNotFoundError(id);
  const [now, workers, known, flow] = await Promise.all([store.now(), store.listWorkers(), store.knownTasks(), store.flowState()]);
  const liveWithin = options.liveWithinMs ?? 30_000;
  const caps = new Map<string, number | null>();
  for (const t of known) caps.set(t.name, capOf(t.options));
  for (const [name, def] of options.tasks ?? []) caps.set(name, def.options.concurrency);
  const facts: Facts = { now, workers, caps, pauses: flow.pauses, live: (w) => now - w.lastSeenAt <= liveWithin };
  const answer = await explain(store, job, facts, options, new Set(), 0);
  const deadEnd = findDeadEnd(answer);
  if (deadEnd && deadEnd.jobId !== answer.jobId) answer.deadEnd = { jobId: deadEnd.jobId, code: deadEnd.code, summary: deadEnd.summary };
  return answer;
}

async function explain(store: Store, job: Job, f: Facts, o: ExplainOptions, seen: Set<string>, depth: number): Promise<WhyAnswer> {
  const base = { jobId: job.id, task: job.task, state: job.state };
  if (seen.has(job.id)) return { ...base, code: 'cycle', summary: `job ${job.id} waits on itself through its descendants (a cycle in the wait-for graph)` };
  seen.add(job.id);
  if (TERMINAL_STATES.includes(job.state)) {
    const error = job.error ? `: ${job.error.kind}: ${job.error.message}` : '';
    return { ...base, code: 'finished', summary: `job ${job.id} is ${job.state}${job.finishedAt ? ` since ${iso(job.finishedAt)}` : ''}${error}` };
  }
  if (job.deadlineAt !== null && job.deadlineAt <= f.now) {
    return { ...base, code: 'deadline-passed', until: job.deadlineAt, summary: `job ${job.id}'s deadline passed at ${iso(job.deadlineAt)}; the next claim or lease check ends it \`deadline\`` };
  }
  if (job.state === 'running') return explainRunning(store, job, f, o, seen, depth);
  return explainQueued(store, job, f);
}

async function explainRunning(store: Store, job: Job, f: Facts, o: ExplainOptions, seen: Set<string>, depth: number): Promise<WhyAnswer> {
  const base = { jobId: job.id, task: job.task, state: job.state };
  const owner = f.workers.find((w) => w.workerId === job.leaseOwner);
  const expires = job.leaseExpiresAt ?? f.now;
  if (expires < f.now || !owner || !f.live(owner)) {
    const who = owner ? `worker ${owner.workerId} (pid ${owner.pid}, last seen ${ago(f.now, owner.lastSeenAt)} ago)` : `worker ${job.leaseOwner ?? '?'} (no longer registered)`;
    const anyLive = f.workers.some(f.live);
    const when =
      expires < f.now
        ? `its lease expired at ${iso(expires)}; ${anyLive ? 'a live worker recovers it on its next sweep (within a second or so)' : 'the next worker to start recovers it (no live worker now)'}`
        : `its lease expires at ${iso(expires)}, when it is recovered and run again`;
    return { ...base, code: 'lease-lost', until: expires, summary: `job ${job.id} attempt ${job.attempts} is held by a lost ${who}; ${when}` };
  }
  if (job.cancelRequested) {
    return { ...base, code: 'cancel-requested', summary: `job ${job.id} was asked to cancel; worker ${job.leaseOwner} aborts and kills attempt ${job.attempts} on its next lease renewal` };
  }
  const kids = await store.children(job.id);
  const open = kids.filter((k) => !TERMINAL_STATES.includes(k.state));
  if (open.length > 0) {
    const done = kids.length - open.length;
    const head = `job ${job.id} waits on its children: ${done} of ${kids.length} done`;
    if (depth >= (o.maxDepth ?? 20)) {
      return { ...base, code: 'depth-limit', summary: `${head}; the wait-for graph is deeper than ${o.maxDepth ?? 20} levels (ask \`vigil why\` about a child)` };
    }
    const max = o.maxChildren ?? 20;
    const waiting: WhyAnswer[] = [];
    for (const child of open.slice(0, max)) waiting.push(await explain(store, child, f, o, seen, depth + 1));
    const more = open.length > max ? ` (${open.length - max} more not shown)` : '';
    return { ...base, code: 'waiting-children', summary: `${head}${more}`, children: { done, total: kids.length, waiting } };
  }
  const progress = job.progress?.fraction != null ? `, ${Math.round(job.progress.fraction * 100)}% done` : '';
  const beat = job.lastHeartbeatAt ? `, last heartbeat ${ago(f.now, job.lastHeartbeatAt)} ago` : '';
  return {
    ...base,
    code: 'running',
    summary: `job ${job.id} is running attempt ${job.attempts} on worker ${job.leaseOwner} since ${iso(job.startedAt ?? f.now)}${progress}${beat}; it is not waiting on anything`,
  };
}

async function explainQueued(store: Store, job: Job, f: Facts): Promise<WhyAnswer> {
  const base = { jobId: job.id, task: job.task, state: job.state };
  const pause = f.pauses.find((p) => p.task === job.task && p.until > f.now);
  if (pause) return { ...base, code: 'paused', until: pause.until, summary: `task ${job.task} is paused until ${iso(pause.until)}: ${pause.reason}` };
  if (job.waitReason) {
    return { ...base, code: 'rate-limited', until: job.runAt, summary: `job ${job.id} waits until ${iso(job.runAt)}: ${job.waitReason}` };
  }
  if (job.runAt > f.now) {
    if (job.attempts > 0 && job.error) {
      return {
        ...base,
        code: 'retry-backoff',
        until: job.runAt,
        summary: `job ${job.id} waits until ${iso(job.runAt)} (in ${formatDuration(job.runAt - f.now)}) for its retry backoff after attempt ${job.attempts} failed with ${job.error.kind}: ${job.error.message}`,
      };
    }
    return { ...base, code: 'delayed', until: job.runAt, summary: `job ${job.id} was submitted to run no earlier than ${iso(job.runAt)} (in ${formatDuration(job.runAt - f.now)})` };
  }
  const serving = f.workers.filter((w) => f.live(w) && servesTask(w, job.task));
  if (serving.length === 0) {
    const others = f.workers.filter(f.live).length;
    return {
      ...base,
      code: 'no-worker',
      summary: `no live worker serves task ${job.task} (${others === 0 ? 'no live worker at all' : `${others} live worker(s), none with this task in its tasks module`}): start one with \`vigil worker --tasks <module>\``,
    };
  }
  const cap = f.caps.get(job.task) ?? null;
  if (cap !== null) {
    const running = (await store.list({ state: 'running', task: job.task, limit: SCAN })).reverse();
    // A parent waiting on its children lends its slot back (G6): it does not hold the cap.
    const holders: Job[] = [];
    for (const r of running) if (!(await hasOpenChildren(store, r.id))) holders.push(r);
    if (holders.length >= cap * serving.length) {
      const ids = holders.map((h) => h.id);
      return {
        ...base,
        code: 'concurrency-cap',
        jobs: ids,
        summary: `task ${job.task}'s concurrency cap (${cap} per worker, ${serving.length} worker(s)) is held by job${ids.length === 1 ? '' : 's'} ${list(ids)}`,
      };
    }
  }
  const busy = serving.every((w) => slotsInUse(w) !== null && slotsInUse(w)! >= w.concurrency);
  const queued = await store.list({ state: 'queued', task: job.task, limit: SCAN });
  const ahead = queued.filter((q) => q.id !== job.id && q.runAt <= f.now && comesFirst(q, job)).map((q) => q.id);
  if (busy) {
    return {
      ...base,
      code: 'workers-busy',
      jobs: ahead,
      summary: `every slot of the ${serving.length} worker(s) serving task ${job.task} is busy${ahead.length ? `, and ${count(ahead)} job(s) of the task come first` : ''}`,
    };
  }
  if (ahead.length > 0) {
    return { ...base, code: 'queued-behind', jobs: ahead, summary: `job ${job.id} is queued behind ${count(ahead)} job(s) of task ${job.task} with higher priority or older: ${list(ahead)}` };
  }
  return { ...base, code: 'ready', summary: `job ${job.id} is due and first in line; a worker claims it on its next poll` };
}

/** Claim order: highest priority, then oldest runAt, then lowest id. */
function comesFirst(a: Job, b: Job): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.runAt !== b.runAt) return a.runAt < b.runAt;
  return Number(a.id) < Number(b.id);
}

async function hasOpenChildren(store: Store, id: string): Promise<boolean> {
  return (await store.children(id)).some((c) => !TERMINAL_STATES.includes(c.state));
}

/** Workers announce the tasks they serve (older stores without the column: assume every task). */
function servesTask(w: WorkerRecord, task: string): boolean {
  return w.tasks === undefined || w.tasks.includes(task);
}

function slotsInUse(w: WorkerRecord): number | null {
  const s = w.stats;
  if (s && typeof s === 'object' && !Array.isArray(s) && typeof s.slotsInUse === 'number') return s.slotsInUse;
  return null;
}

function capOf(options: unknown): number | null {
  if (options && typeof options === 'object' && 'concurrency' in options) {
    const c = (options as { concurrency?: unknown }).concurrency;
    if (typeof c === 'number') return c;
  }
  return null;
}

function findDeadEnd(a: WhyAnswer): WhyAnswer | null {
  if (DEAD_ENDS.includes(a.code)) return a;
  for (const c of a.children?.waiting ?? []) {
    const d = findDeadEnd(c);
    if (d) return d;
  }
  return null;
}

const iso = (t: number): string => new Date(t).toISOString();
const ago = (now: number, t: number): string => formatDuration(Math.max(0, now - t));
const count = (ids: string[]): string => (ids.length >= SCAN ? `at least ${ids.length}` : String(ids.length));
const list = (ids: string[]): string => (ids.length > 10 ? `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more` : ids.join(', '));

/** The answer as indented lines, the tree drawn the way `vigil why` prints it. */
export function formatWhy(a: WhyAnswer, depth = 0): string {
  const lines = [`${'  '.repeat(depth)}${depth ? '- ' : ''}${a.summary}`];
  for (const c of a.children?.waiting ?? []) lines.push(formatWhy(c, depth + 1));
  if (a.deadEnd) lines.push(`dead end: job ${a.deadEnd.jobId} (${a.deadEnd.code}): ${a.deadEnd.summary}`);
  return lines.join('\n');
}
