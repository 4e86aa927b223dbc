import type { OpsSnapshot } from '../../store/contract.js';
import { formatDuration } from '../../task/duration.js';
import { liveness } from '../liveness.js';
import type { DoctorCheck, DoctorReport, QueueView, WorkerView } from './report.js';

export interface CheckOptions {
  /** How long a condition Vigil fixes by itself may last before it is a finding. */
  graceMs: number;
  /** Hangs and freezes this recent are shown. */
  windowMs: number;
  expectedSchemaVersion: number;
}

/** A runnable job waiting this long on a served task: workers are not keeping up. */
const BACKLOG_WARN_MS = 5 * 60_000;
const LOOP_WARN_MS = 100;
/** How often a live worker looks for expired leases (Worker.maybeRecover: lease/2, between 0.5 and 5 s). */
const recoveryEveryMs = (leaseMs: number): number => Math.max(500, Math.min(5_000, leaseMs / 2));

const ago = (ms: number): string => `${formatDuration(Math.max(0, Math.round(ms)))} ago`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Every store check of `vigil doctor`, as a pure function of one snapshot: the same facts always give the same
 * verdict, and each verdict is computed from facts (a worker's silence against its own lease), never guessed.
 */
export function evaluate(s: OpsSnapshot, o: CheckOptions): Pick<DoctorReport, 'checks' | 'workers' | 'queues' | 'expiredLeases' | 'pastDeadline' | 'settledParents' | 'hangs' | 'freezes'> {
  const checks: DoctorCheck[] = [];
  const workers: WorkerView[] = s.workers.map((w) => {
    const l = liveness(w, s.now);
    return {
      workerId: w.workerId,
      hostname: w.hostname,
      pid: w.pid,
      concurrency: w.concurrency,
      tasks: w.tasks ?? [],
      state: l.state,
      lastSeenAt: new Date(w.lastSeenAt).toISOString(),
      lastSeenMsAgo: l.silentMs,
      lostAfterMs: l.lostAfterMs,
      eventLoopDelayMs: loopDelayOf(w.stats),
    };
  });
  const live = workers.filter((w) => w.state === 'live');
  const liveRecords = s.workers.filter((w) => live.some((v) => v.workerId === w.workerId));
  const served = new Map<string, number>();
  for (const w of live) for (const t of w.tasks) served.set(t, (served.get(t) ?? 0) + 1);

  checks.push(
    s.schemaVersion >= o.expectedSchemaVersion
      ? { id: 'schema', status: 'ok', summary: `version ${s.schemaVersion} (current)`, action: null, details: [] }
      : {
          id: 'schema',
          status: 'fail',
          summary: `version ${s.schemaVersion}, this Vigil expects ${o.expectedSchemaVersion}`,
          action: 'open the store once with this Vigil version (any command migrates it), or upgrade the workers',
          details: [],
        },
  );

  // Workers: a lost one needs a human only when what it served is served by nobody now.
  const lost = workers.filter((w) => w.state === 'lost');
  const orphaned = lost.map((w) => ({ w, tasks: w.tasks.filter((t) => !served.has(t)) })).filter((x) => x.tasks.length > 0);
  const workerLines = workers.map(
    (w) =>
      `${w.state === 'live' ? 'live' : 'LOST'}  ${w.workerId} (${plural(w.concurrency, 'slot')}${w.tasks.length ? `; ${w.tasks.join(', ')}` : ''}) last seen ${ago(w.lastSeenMsAgo)}` +
      (w.state === 'lost' ? ` — silent past its lease (lost after ${formatDuration(w.lostAfterMs)})` : ''),
  );
  checks.push({
    id: 'workers',
    status: orphaned.length ? 'fail' : lost.length ? 'warn' : 'ok',
    summary: workers.length === 0 ? 'none registered' : `${live.length} live, ${lost.length} lost`,
    action: orphaned.length
      ? `restart the lost worker(s) or start another serving ${[...new Set(orphaned.flatMap((x) => x.tasks))].join(', ')} (vigil worker --tasks <module>); once handled, "vigil doctor --forget-lost" removes the dead records`
      : lost.length
        ? 'live workers serve their tasks and recover their jobs; find out why they died (logs, OOM killer), then "vigil doctor --forget-lost" removes the records'
        : null,
    details: workerLines,
  });

  // Running jobs whose lease expired: any live worker recovers them within its recovery interval.
  const expiredLeases = s.expiredLeases.map((j) => ({ id: j.id, task: j.task, leaseOwner: j.leaseOwner, expiredMsAgo: s.now - j.leaseExpiresAt }));
  const recoveryWindow = Math.max(0, ...liveRecords.map((w) => recoveryEveryMs(w.leaseMs ?? 30_000))) + o.graceMs;
  const overdue = expiredLeases.filter((j) => j.expiredMsAgo > recoveryWindow);
  const leaseLines = expiredLeases.slice(0, 20).map((j) => `job ${j.id} (${j.task}): lease of ${j.leaseOwner ?? '?'} expired ${ago(j.expiredMsAgo)}`);
  if (expiredLeases.length === 0) {
    checks.push({ id: 'expired-leases', status: 'ok', summary: 'none', action: null, details: [] });
  } else if (live.length === 0) {
    checks.push({
      id: 'expired-leases',
      status: 'fail',
      summary: `${plural(expiredLeases.length, 'running job')} with an expired lease and no live worker to recover them`,
      action: 'start a worker (any worker of this store recovers expired leases; the jobs are then retried or failed per their policy)',
      details: leaseLines,
    });
  } else {
    checks.push({
      id: 'expired-leases',
      status: overdue.length ? 'fail' : 'warn',
      summary: overdue.length
        ? `${plural(overdue.length, 'running job')} with a lease expired over ${formatDuration(recoveryWindow)} ago, not recovered although ${plural(live.length, 'worker')} live`
        : `${plural(expiredLeases.length, 'running job')} with an expired lease, being recovered by live workers`,
      action: overdue.length ? 'the live workers are not recovering leases: read their logs (store errors?) and restart them' : 'nothing: a live worker re-queues them within seconds',
      details: leaseLines,
    });
  }

  // Queued jobs of tasks no live worker serves will wait forever.
  const queues: QueueView[] = s.queues.map((q) => ({
    task: q.task,
    queued: q.queued,
    runnable: q.runnable,
    running: q.running,
    oldestWaitingMs: q.oldestRunnableAt === null ? null : s.now - q.oldestRunnableAt,
    liveWorkers: served.get(q.task) ?? 0,
  }));
  const unserved = queues.filter((q) => q.queued > 0 && q.liveWorkers === 0);
  // Workers of an older Vigil did not record what they serve: with one of those live, "nobody serves it" is unknown.
  const legacyLive = liveRecords.filter((w) => (w.leaseMs === null || w.leaseMs === undefined) && (w.tasks ?? []).length === 0).length;
  checks.push(
    unserved.length === 0
      ? { id: 'unserved-tasks', status: 'ok', summary: 'every queued job has a live worker for its task', action: null, details: [] }
      : {
          id: 'unserved-tasks',
          status: legacyLive ? 'warn' : 'fail',
          summary: `${plural(unserved.reduce((n, q) => n + q.queued, 0), 'queued job')} of ${plural(unserved.length, 'task')} no live worker serves${legacyLive ? ` (unless one of the ${legacyLive} live worker(s) of an older Vigil does: they do not list their tasks)` : ''}`,
          action: `start a worker whose tasks module defines ${unserved.map((q) => q.task).join(', ')} (vigil worker --tasks <module>), or cancel the jobs`,
          details: unserved.map((q) => `${q.task}: ${q.queued} queued${q.oldestWaitingMs !== null ? `, oldest waiting ${formatDuration(q.oldestWaitingMs)}` : ''}`),
        },
  );

  // Deadlines: claim() fails late queued jobs and the supervisor ends late running ones; beyond the grace nobody did.
  const pastDeadline = s.pastDeadline.map((j) => ({ id: j.id, task: j.task, state: j.state, pastMs: s.now - j.deadlineAt }));
  const late = pastDeadline.filter((j) => j.pastMs > o.graceMs);
  checks.push(
    late.length === 0
      ? { id: 'past-deadline', status: 'ok', summary: 'none', action: null, details: [] }
      : {
          id: 'past-deadline',
          status: 'fail',
          summary: `${plural(late.length, 'job')} still ${[...new Set(late.map((j) => j.state))].join('/')} past their deadline`,
          action: late.some((j) => j.state === 'queued')
            ? 'queued ones: no worker claimed them in time (none serves the task, or all are busy): start or add workers, or "vigil cancel <id>"; running ones: "vigil inspect <id> --now", then "vigil cancel <id>"'
            : 'the worker running them did not end them at their deadline: "vigil inspect <id> --now" shows where they are; "vigil cancel <id>" ends them',
          details: late.slice(0, 20).map((j) => `job ${j.id} (${j.task}) ${j.state}, deadline passed ${ago(j.pastMs)}`),
        },
  );

  // A parent whose children all ended and that has shown no sign of life since: its wait for them never returned.
  const settled = s.settledParents
    .filter((p) => s.now - p.lastChildFinishedAt > o.graceMs && (p.lastHeartbeatAt === null || p.lastHeartbeatAt < p.lastChildFinishedAt))
    .map((p) => ({ id: p.id, task: p.task, children: p.children, lastChildEndedMsAgo: s.now - p.lastChildFinishedAt }));
  checks.push(
    settled.length === 0
      ? { id: 'settled-parents', status: 'ok', summary: 'none', action: null, details: [] }
      : {
          id: 'settled-parents',
          status: 'fail',
          summary: `${plural(settled.length, 'parent job')} still running, silent since all their children ended`,
          action:
            '"vigil inspect <id> --now" shows where each parent is: if it waits in ctx.all the wake-up was missed (a bug: report it) and "vigil cancel <id>" or a worker restart re-runs it with the stored child results; if it does other work, give it ctx.heartbeat()',
          details: settled.slice(0, 20).map((p) => `job ${p.id} (${p.task}): ${plural(p.children, 'child')} all ended, the last ${ago(p.lastChildEndedMsAgo)}`),
        },
  );

  const backlog = queues.filter((q) => q.liveWorkers > 0 && q.oldestWaitingMs !== null && q.oldestWaitingMs > BACKLOG_WARN_MS);
  const totals = queues.reduce((t, q) => ({ queued: t.queued + q.queued, runnable: t.runnable + q.runnable, running: t.running + q.running }), { queued: 0, runnable: 0, running: 0 });
  checks.push({
    id: 'queues',
    status: backlog.length ? 'warn' : 'ok',
    summary: queues.length === 0 ? 'empty' : `${totals.queued} queued (${totals.runnable} runnable), ${totals.running} running, ${plural(queues.length, 'task')}`,
    action: backlog.length ? `workers are not keeping up with ${backlog.map((q) => q.task).join(', ')}: add workers or raise --concurrency` : null,
    details: queues.map(
      (q) =>
        `${q.task}: ${q.runnable} runnable, ${q.queued - q.runnable} delayed, ${q.running} running${q.oldestWaitingMs !== null ? `, oldest waiting ${formatDuration(Math.max(0, q.oldestWaitingMs))}` : ''}; ${plural(q.liveWorkers, 'live worker')}`,
    ),
  });

  const hangs = s.hangs.map((h) => ({ task: h.task, kind: h.kind, count: h.count, lastAt: new Date(h.lastAt).toISOString() }));
  const hangCount = hangs.reduce((n, h) => n + h.count, 0);
  checks.push({
    id: 'hangs',
    status: hangCount ? 'warn' : 'ok',
    summary: hangCount ? `${plural(hangCount, 'attempt')} ended hung or crashed in the last ${formatDuration(o.windowMs)} (retried per policy)` : `none in the last ${formatDuration(o.windowMs)}`,
    action: hangCount ? '"vigil jobs --state failed" and "vigil inspect <id>" show each hang report (where it hung); fix the task or raise its timeout' : null,
    details: hangs.map((h) => `${h.task}: ${h.count} ${h.kind}, last ${h.lastAt}`),
  });

  const freezes = s.freezes.map((f) => ({
    workerId: f.workerId,
    pid: f.pid,
    hostname: f.hostname,
    at: new Date(f.detectedAt).toISOString(),
    blockedMs: f.blockedMs,
    action: f.action,
    stack: f.stack,
    notes: f.notes,
  }));
  checks.push(
    freezes.length === 0
      ? { id: 'supervisor-freezes', status: 'ok', summary: `none in the last ${formatDuration(o.windowMs)}`, action: null, details: [] }
      : {
          id: 'supervisor-freezes',
          status: 'fail',
          summary: `${plural(freezes.length, 'supervisor freeze')} in the last ${formatDuration(o.windowMs)}`,
          action:
            "a supervisor's event loop was blocked (its leases went unrenewed): the stack names the function; it is synchronous code on the worker's main thread (Vigil's, or something the worker process loads such as an onHang listener): fix it or report it with this stack",
          details: freezes.flatMap((f) => [
            `${f.at} ${f.workerId} (pid ${f.pid}) frozen ${formatDuration(f.blockedMs)}${f.action === 'restart' ? ', process ended to restart' : ''}:`,
            ...(f.stack.length ? f.stack.slice(0, 6).map((fr) => `  at ${fr.functionName || '(anonymous)'} (${fr.file}:${fr.line}:${fr.column})`) : ['  (no JS stack)']),
            ...f.notes.map((n) => `  note: ${n}`),
          ]),
        },
  );

  // The supervisors' own event-loop delay, as each live worker last reported it (cumulative since it started, so a
  // past spike stays visible): a warning only; a freeze that cost leases is the supervisor-freezes finding.
  const delays = live.filter((w) => w.eventLoopDelayMs !== null);
  const lag = (w: WorkerView): number => w.eventLoopDelayMs!.p99;
  const slow = delays.filter((w) => lag(w) > LOOP_WARN_MS);
  checks.push({
    id: 'event-loop',
    status: slow.length ? 'warn' : 'ok',
    summary:
      delays.length === 0
        ? 'no live worker has reported it yet'
        : `worst p99 ${Math.max(...delays.map(lag)).toFixed(1)} ms over ${plural(delays.length, 'live worker')} (since each started)`,
    action: slow.length
      ? 'a supervisor loop is slow (the machine is starved of CPU, the store answers slowly, or it froze: see supervisor-freezes); watch vigil_supervisor_event_loop_delay_seconds'
      : null,
    details: delays.map((w) => `${w.workerId}: p50 ${w.eventLoopDelayMs!.p50.toFixed(1)} ms, p99 ${lag(w).toFixed(1)} ms, max ${w.eventLoopDelayMs!.max.toFixed(1)} ms`),
  });

  return { checks, workers, queues, expiredLeases, pastDeadline, settledParents: settled, hangs, freezes };
}

function loopDelayOf(stats: unknown): WorkerView['eventLoopDelayMs'] {
  const d = (stats as { eventLoopDelayMs?: { p50?: unknown; p99?: unknown; max?: unknown } } | null)?.eventLoopDelayMs;
  if (!d || typeof d.p99 !== 'number') return null;
  return { p50: Number(d.p50) || 0, p99: d.p99, max: Number(d.max) || 0 };
}
