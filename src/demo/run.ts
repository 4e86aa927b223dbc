import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../errors.js';
import { Vigil } from '../vigil.js';
import { collectFacts, type CrashFact, type DemoSummary } from './facts.js';
import { LiveView } from './live.js';
import { RunMonitor, type Snapshot, type TrackRef } from './monitor.js';
import { highlightsTasksModule } from './paths.js';
import { makePlan } from './plan.js';
import { WorkerProcess } from './worker-process.js';

export interface DemoOptions {
  /** A store URL; default: a SQLite file in a fresh temporary directory. */
  store?: string;
  /** WAV files to analyse instead of the synthesised tracks. */
  inputs?: string[];
  /** Inject the faults (default true). */
  faults?: boolean;
  /** Keep the temporary directory (tracks, worker logs, the default store). */
  keep?: boolean;
  /** Where the live view goes (default stderr). */
  out?: NodeJS.WriteStream;
  /** Aborts the run (SIGINT): workers are stopped, nothing is left running. */
  signal?: AbortSignal;
}

const POLL_MS = 200;
const CONCURRENCY = 2;
const LEASE = '2s';
/** The demo's own bound: a run that needs longer than this is reported as a failure, never waited on forever. */
const RUN_LIMIT_MS = 120_000;
/** Kill the worker once this share of the windows has succeeded (and the spinning window has timed out). */
const CRASH_AFTER_SHARE = 0.2;

/**
 * `vigil demo`: the highlights pipeline from examples/highlights on a worker in a child process, watched through
 * the store. Faults are injected on purpose; the summary says how each was handled and the checks compare it with
 * the store.
 */
export async function runDemo(options: DemoOptions = {}): Promise<{ summary: DemoSummary; workDir: string }> {
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
  const storeUrl = options.store ?? `sqlite:${join(workDir, 'vigil.db')}`;
  const tasksModule = highlightsTasksModule();
  const view = new LiveView(options.out);
  const workers: WorkerProcess[] = [];
  let vigil: Vigil | null = null;
  try {
    const plan = await makePlan({ inputs: options.inputs ?? [], faults: options.faults ?? true, workDir });
    vigil = await Vigil.open({ store: storeUrl, tasks: tasksModule });
    const startedAt = Date.now();
    view.line(`store ${vigil.store.description}; pipeline ${tasksModule}`);
    for (const f of plan.faults) view.line(`fault planned: ${f.track} window ${f.window} ${FAULT_TEXT[f.fault]}`);
    if (plan.crash) view.line('fault planned: the worker is killed (SIGKILL) once mid-run');

    const startWorker = (): WorkerProcess => {
      const w = new WorkerProcess({ tasksModule, storeUrl, concurrency: CONCURRENCY, lease: LEASE, logFile: join(workDir, `worker-${workers.length + 1}.log`), cwd: workDir });
      workers.push(w);
      view.line(`worker ${workers.length} started: pid ${w.pid}, ${CONCURRENCY} slots, lease ${LEASE}`);
      return w;
    };
    let worker = startWorker();

    // The first track goes alone until its windows are queued: they are then the oldest jobs, claimed first, so
    // the spinning window starts at once and the crash can come after its timeout with most of the work ahead.
    const tracks: TrackRef[] = [];
    const submit = async (t: (typeof plan.tracks)[number]): Promise<void> => {
      const job = await vigil!.submit('highlights.track', t.input);
      tracks.push({ name: t.name, jobId: job.id, windows: t.windows });
    };
    await submit(plan.tracks[0]!);
    const spawnBound = Date.now() + 30_000;
    while ((await vigil.store.children(tracks[0]!.jobId)).length < plan.tracks[0]!.windows) {
      if (!worker.alive || Date.now() > spawnBound || options.signal?.aborted) {
        throw new VigilError('VIGIL_INTERNAL', `vigil demo: the first track's windows were not queued within 30 s; worker log:\n${tail(worker.options.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const t of plan.tracks.slice(1)) await submit(t);
    const windows = tracks.reduce((n, t) => n + t.windows, 0);
    view.line(`submitted ${tracks.length} tracks (jobs ${tracks.map((t) => t.jobId).join(', ')}): ${windows} windows of analysis`);

    const faultOf = (track: string, window: number) => plan.faults.find((f) => f.track === track && f.window === window)?.fault;
    const monitor = new RunMonitor(vigil.store, tracks, faultOf);
    let crash: Omit<CrashFact, 'crashedAttempts'> | null = plan.crash
      ? { injected: false, workerPid: null, atSec: null, inFlight: [], doneBefore: [], replacementPid: null, note: 'the run finished before the crash point' }
      : null;
    let spinTimedOut = !plan.faults.some((f) => f.fault === 'spin');
    const deadline = Date.now() + RUN_LIMIT_MS;
    for (;;) {
      if (options.signal?.aborted) throw new VigilError('VIGIL_INTERNAL', 'vigil demo: interrupted');
      const { snapshot, events } = await monitor.poll();
      for (const e of events) {
        view.event(e);
        if (e.type === 'attempt-failed' && e.attempt.outcome === 'timeout') spinTimedOut = true;
      }
      view.update(snapshot.tracks);
      if (snapshot.tracks.every((t) => t.parent && ['succeeded', 'failed', 'cancelled'].includes(t.parent.state))) break;
      if (crash && !crash.injected && spinTimedOut && crashPoint(snapshot, windows)) {
        const inFlight = snapshot.jobs.filter((j) => j.state === 'running').map((j) => j.id);
        const doneBefore = snapshot.jobs.filter((j) => j.state === 'succeeded' && j.parentId !== null).map((j) => j.id);
        view.line(`injecting the crash: SIGKILL to worker ${workers.length} (pid ${worker.pid}) with ${inFlight.length} job(s) running (${inFlight.join(', ')}); their leases expire in ${LEASE}`);
        const pid = worker.pid;
        await worker.crash();
        worker = startWorker();
        crash = { injected: true, workerPid: pid, atSec: Math.round((Date.now() - startedAt) / 100) / 10, inFlight, doneBefore, replacementPid: worker.pid, note: null };
      }
      if (!worker.alive) {
        throw new VigilError('VIGIL_INTERNAL', `vigil demo: the worker (pid ${worker.pid}) exited on its own; its log:\n${tail(worker.options.logFile)}`);
      }
      if (Date.now() > deadline) {
        throw new VigilError('VIGIL_INTERNAL', `vigil demo: the pipeline did not finish within ${RUN_LIMIT_MS / 1000} s; worker log:\n${tail(worker.options.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    view.stop();
    await worker.stop();
    const summary = await collectFacts({ store: vigil.store, storeDescription: vigil.store.description, tracks, faults: plan.faults, crash, startedAt });
    return { summary, workDir };
  } finally {
    view.stop();
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await vigil?.close();
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  }
}

const FAULT_TEXT = {
  spin: 'spins forever in a busy loop on its first attempt',
  prompt: 'runs a program that asks a question on stdin',
  corrupt: 'is corrupt and fails for good',
} as const;

/** Mid-run: enough windows done to show they are not re-run, and work in flight to show that it is. */
function crashPoint(snapshot: Snapshot, windows: number): boolean {
  const succeeded = snapshot.tracks.reduce((n, t) => n + t.succeeded, 0);
  const runningWindows = snapshot.jobs.filter((j) => j.state === 'running' && j.parentId !== null).length;
  return succeeded >= Math.ceil(windows * CRASH_AFTER_SHARE) && runningWindows > 0;
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
