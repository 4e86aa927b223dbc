import type { Store } from '../store/contract.js';
import type { Attempt, ErrorKind, Job } from '../types.js';
import { hangFrame, isTerminal, windowIndex, type TrackRef } from './monitor.js';
import type { FaultName, PlannedFault } from './plan.js';

/**
 * The demo's summary as data, read back from the store after the run: what `--json` prints and what the text
 * summary shows. Every claim the summary makes is a check here, so "exit 0" means the store agrees.
 */

export interface HighlightFact {
  window: number;
  startSec: number;
  endSec: number;
  rmsDb: number;
  centroidHz: number;
}

export interface TrackFact {
  name: string;
  jobId: string;
  state: Job['state'];
  attempts: number;
  windows: number;
  analysed: number | null;
  loudest: HighlightFact[];
  brightest: HighlightFact[];
  missing: Array<{ window: number; startSec: number; endSec: number; jobId: string; kind: string; reason: string }>;
  error: string | null;
}

export interface AttemptFact {
  attempt: number;
  outcome: string | null;
  ms: number | null;
  charged: boolean;
  error: string | null;
}

export interface FaultFact {
  fault: FaultName;
  track: string;
  window: number;
  jobId: string | null;
  state: Job['state'] | 'missing';
  attempts: AttemptFact[];
  /** spin: the frame the hang report names. */
  hang?: { functionName: string; file: string; line: number } | null;
  /** prompt: what the program printed and how long it took. */
  program?: { stdout: string; ms: number; exitCode: number | null } | null;
  /** corrupt: the error, and whether the track's result lists the window as missing. */
  error?: { kind: ErrorKind; message: string; retryable: boolean } | null;
  listedAsMissing?: boolean;
}

export interface CrashFact {
  injected: boolean;
  workerPid: number | null;
  atSec: number | null;
  /** Jobs that were running in the killed worker. */
  inFlight: string[];
  /** Windows that had succeeded before the kill: the re-run track jobs must get these back, not run them again. */
  doneBefore: string[];
  /** Of those, how many ran again (should be 0). */
  rerunAfterDone?: number;
  /** Attempts that ended `crashed` (recovered from the dead worker's expired leases). */
  crashedAttempts: Array<{ jobId: string; attempt: number; task: string; finalState: Job['state'] }>;
  replacementPid: number | null;
  note: string | null;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoSummary {
  ok: boolean;
  store: string;
  seconds: number;
  faultsInjected: boolean;
  tracks: TrackFact[];
  faults: FaultFact[];
  crash: CrashFact | null;
  jobs: { expected: number; found: number; succeeded: number; failed: number; cancelled: number; notTerminal: number };
  checks: Check[];
}

export interface RunRecord {
  store: Store;
  storeDescription: string;
  tracks: TrackRef[];
  faults: PlannedFault[];
  crash: Omit<CrashFact, 'crashedAttempts'> | null;
  startedAt: number;
}

export const SPIN_FUNCTION = 'stuckDecoderLoop';

export async function collectFacts(run: RunRecord): Promise<DemoSummary> {
  const { store } = run;
  const parents = await store.getMany(run.tracks.map((t) => t.jobId));
  const children = new Map<string, Job[]>();
  for (const t of run.tracks) children.set(t.name, await store.children(t.jobId));
  const all = [...parents, ...[...children.values()].flat()];

  const tracks = run.tracks.map((t): TrackFact => {
    const job = parents.find((p) => p.id === t.jobId);
    const r = (job?.state === 'succeeded' ? job.result : null) as unknown as Omit<TrackFact, 'name' | 'jobId' | 'state' | 'attempts' | 'error'> | null;
    return {
      name: t.name,
      jobId: t.jobId,
      state: job?.state ?? 'queued',
      attempts: job?.attempts ?? 0,
      windows: r?.windows ?? t.windows,
      analysed: r?.analysed ?? null,
      loudest: r?.loudest ?? [],
      brightest: r?.brightest ?? [],
      missing: r?.missing ?? [],
      error: job?.error ? `${job.error.kind}: ${job.error.message}` : null,
    };
  });

  const faults: FaultFact[] = [];
  for (const f of run.faults) {
    const job = children.get(f.track)?.find((c) => windowIndex(c) === f.window) ?? null;
    const attempts = job ? await store.attempts(job.id) : [];
    const fact: FaultFact = { fault: f.fault, track: f.track, window: f.window, jobId: job?.id ?? null, state: job?.state ?? 'missing', attempts: attempts.map(attemptFact) };
    if (f.fault === 'spin') {
      const timedOut = attempts.find((a) => a.outcome === 'timeout');
      const frame = timedOut ? (timedOut.hangReport?.where.stack ?? []).find((s) => s.functionName === SPIN_FUNCTION) ?? hangFrame(timedOut) : null;
      fact.hang = frame ? { functionName: frame.functionName, file: frame.file, line: frame.line } : null;
    } else if (f.fault === 'prompt') {
      const ext = (job?.state === 'succeeded' ? (job.result as { externalProgram?: { stdout: string; ms: number; exitCode: number | null } } | null)?.externalProgram : null) ?? null;
      fact.program = ext ? { stdout: ext.stdout, ms: ext.ms, exitCode: ext.exitCode } : null;
    } else {
      fact.error = job?.error ? { kind: job.error.kind, message: job.error.message, retryable: job.error.retryable !== false } : null;
      const track = tracks.find((t) => t.name === f.track);
      fact.listedAsMissing = !!track?.missing.some((m) => m.window === f.window && m.jobId === job?.id && m.reason.length > 0);
    }
    faults.push(fact);
  }

  let crash: CrashFact | null = null;
  if (run.crash) {
    const crashedAttempts: CrashFact['crashedAttempts'] = [];
    for (const job of all) {
      if (job.attempts < 1) continue;
      for (const a of await store.attempts(job.id)) {
        if (a.outcome === 'crashed' && run.crash.workerPid !== null && a.workerId.includes(`:${run.crash.workerPid}:`)) {
          crashedAttempts.push({ jobId: job.id, attempt: a.attempt, task: job.task, finalState: job.state });
        }
      }
    }
    const doneBefore = new Set(run.crash.doneBefore);
    const rerunAfterDone = all.filter((j) => doneBefore.has(j.id) && j.attempts > 1).length;
    crash = { ...run.crash, crashedAttempts, rerunAfterDone };
  }

  const jobs = {
    expected: run.tracks.reduce((n, t) => n + 1 + t.windows, 0),
    found: all.length,
    succeeded: all.filter((j) => j.state === 'succeeded').length,
    failed: all.filter((j) => j.state === 'failed').length,
    cancelled: all.filter((j) => j.state === 'cancelled').length,
    notTerminal: all.filter((j) => !isTerminal(j)).length,
  };
  const summary: DemoSummary = {
    ok: false,
    store: run.storeDescription,
    seconds: Math.round((Date.now() - run.startedAt) / 100) / 10,
    faultsInjected: run.faults.length > 0,
    tracks,
    faults,
    crash,
    jobs,
    checks: [],
  };
  summary.checks = checks(summary);
  summary.ok = summary.checks.every((c) => c.ok);
  return summary;
}

function attemptFact(a: Attempt): AttemptFact {
  return {
    attempt: a.attempt,
    outcome: a.outcome,
    ms: a.finishedAt === null ? null : a.finishedAt - a.startedAt,
    charged: a.charged,
    error: a.error ? `${a.error.kind}: ${a.error.message}` : null,
  };
}

function checks(s: DemoSummary): Check[] {
  const out: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): void => void out.push({ name, ok, detail });
  const unhappy = s.tracks.filter((t) => t.state !== 'succeeded' || t.analysed === null);
  add('every track has a result', unhappy.length === 0, unhappy.length ? `no result for ${unhappy.map((t) => `${t.name} (${t.state}${t.error ? `: ${t.error}` : ''})`).join(', ')}` : `${s.tracks.length} of ${s.tracks.length}`);
  const accounted = s.tracks.every((t) => t.analysed === null || t.analysed + t.missing.length === t.windows);
  add('every window is analysed or listed as missing', accounted, accounted ? 'no window silently dropped' : 'a track result does not account for all its windows');
  add(
    'nothing lost: every job ended',
    s.jobs.found === s.jobs.expected && s.jobs.notTerminal === 0,
    `${s.jobs.found} of ${s.jobs.expected} jobs found, ${s.jobs.notTerminal} not finished`,
  );
  const expectedFailed = s.faults.filter((f) => f.fault === 'corrupt').length;
  add('no unexpected failure', s.jobs.failed === expectedFailed && s.jobs.cancelled === 0, `${s.jobs.failed} failed (${expectedFailed} on purpose), ${s.jobs.cancelled} cancelled`);
  for (const f of s.faults) {
    if (f.fault === 'spin') {
      const first = f.attempts.find((a) => a.outcome === 'timeout');
      add(
        'spinning window: timed out, hang report names the function, retried and succeeded',
        !!first && f.hang?.functionName === SPIN_FUNCTION && f.state === 'succeeded',
        `attempts: ${f.attempts.map((a) => a.outcome).join(', ')}; hang report: ${f.hang ? `${f.hang.functionName}:${f.hang.line}` : 'none'}`,
      );
    } else if (f.fault === 'prompt') {
      const ok = f.state === 'succeeded' && !!f.program && /end-of-file/.test(f.program.stdout) && f.program.ms < 2_000;
      add('prompting program: read end-of-file, no hang', ok, f.program ? `finished in ${f.program.ms} ms` : `window ${f.state}`);
    } else {
      // One attempt per run of its track job: a re-run parent (after the crash) gives failed children another try,
      // but the window's own retry policy never retries it.
      const trackAttempts = s.tracks.find((t) => t.name === f.track)?.attempts ?? 1;
      const ok =
        f.state === 'failed' &&
        f.error?.retryable === false &&
        f.attempts.every((a) => a.outcome === 'error') &&
        f.attempts.length <= trackAttempts &&
        f.listedAsMissing === true;
      add('corrupt window: failed for good, reported in the track result', ok, f.error ? `${f.error.kind}: ${f.error.message}` : `window ${f.state}`);
    }
  }
  if (s.crash) {
    const c = s.crash;
    const rerunOk = c.crashedAttempts.every((a) => a.finalState === 'succeeded');
    add(
      'worker crash: its jobs were re-run, none lost',
      c.injected && c.crashedAttempts.length > 0 && rerunOk && c.rerunAfterDone === 0,
      c.injected
        ? `${c.crashedAttempts.length} attempt(s) recovered as crashed and re-run; ${c.doneBefore.length} window(s) finished before the crash, ${c.rerunAfterDone} of them ran again`
        : (c.note ?? 'not injected'),
    );
  }
  return out;
}
