import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Vigil } from '../../src/index.js';
import type { Job } from '../../src/types.js';
import { until } from './engine.js';
import { cliWorker, descendants, pidsWithEnv } from './procs.js';

/**
 * The chaos run of issue #13: jobs of every kind across 3 worker processes, with random SIGKILLs of workers (each
 * restarted at once, as a supervisor would) and of executor hosts (thread hosts, attempt processes). Then, from the
 * store and from /proc: every job terminal, none lost, exactly one succeeded attempt per succeeded job, every child's
 * outcome in its parent's result, nothing left running that an attempt started (every process a worker starts
 * inherits VIGIL_CHAOS_TAG, so a survivor is found by its environment wherever it was re-parented).
 */

export const CHAOS_TASKS = resolve('test/fixtures/chaos-tasks.ts');

export interface ChaosOptions {
  storeUrl: string;
  jobs: number;
  /** Kills to make (workers and hosts); the run stops killing once the jobs are all terminal and this is reached. */
  kills: number;
  /** Pause between kills, random in [min, max] ms. */
  pauseMs: [number, number];
  /** Bound on the whole run. */
  timeoutMs: number;
  seed?: number;
  log?: (line: string) => void;
  /**
   * Restarts of the database during the kills (PostgreSQL on a server of the test's own: helpers/private-pg.ts),
   * spread evenly over the kill quota; each takes it down for a random time in `downMs`, by a fast shutdown or an
   * immediate one (as a crash) in turn. Kills go on meanwhile.
   */
  restarts?: { count: number; downMs: [number, number]; restart(downMs: number, mode: 'fast' | 'immediate'): Promise<void> };
}

export interface ChaosFigures {
  store: string;
  jobs: number;
  children: number;
  attempts: number;
  workerKills: number;
  hostKills: number;
  states: Record<string, number>;
  outcomes: Record<string, number>;
  ms: number;
  /** Most processes of the run seen alive at once (workers, hosts, programs). */
  seenTagged: number;
  /** Database restarts made, and the time it was down in all. */
  dbRestarts: number;
  dbDownMs: number;
  /** Workers that exited by themselves (e.g. started while the database was down) and were started again. */
  workerRespawns: number;
}

const KINDS = ['ok', 'ok', 'throws', 'hang', 'busy', 'fan', 'cmd', 'exec', 'ok'] as const;

/** A small deterministic PRNG (mulberry32): a failing run is replayed with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim().startsWith('node');
  } catch {
    return false;
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosFigures> {
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = rng(seed);
  const log = o.log ?? (() => undefined);
  log(`chaos: seed ${seed}, store ${o.storeUrl.replace(/:[^:@/]*@/, ':***@')}`);
  const tag = randomBytes(6).toString('hex');
  const started = Date.now();
  const vigil = await Vigil.open({ store: o.storeUrl, tasks: CHAOS_TASKS });
  const workers: Array<ChildProcess & { output(): string }> = [];
  const spawnWorker = (i: number): void => {
    workers[i] = cliWorker(CHAOS_TASKS, o.storeUrl, ['--quiet', '--lease', '2s', '--concurrency', '4', '--drain', '5s'], { VIGIL_CHAOS_TAG: tag });
  };
  let workerKills = 0;
  let hostKills = 0;
  let workerRespawns = 0;
  let dbRestarts = 0;
  let dbDownMs = 0;
  let restarting: Promise<void> | null = null;
  // The run's own store calls meet the database restarts too: retried until it is back (bounded).
  const retrying = async <T>(call: () => Promise<T>): Promise<T> => {
    const end = Date.now() + 90_000;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (!o.restarts || Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  // The leftover check finds processes by their environment: it must see the run's own processes while they run.
  let seenTagged = 0;
  try {
    for (let i = 0; i < 3; i++) spawnWorker(i);
    const roots: Job[] = [];
    for (let n = 0; n < o.jobs; n++) {
      const kind = KINDS[Math.floor(random() * KINDS.length)]!;
      const input =
        kind === 'ok' ? { n, ms: Math.floor(random() * 300) } : kind === 'fan' ? { n, kids: 2 + Math.floor(random() * 3) } : kind === 'hang' || kind === 'busy' ? {} : { n };
      roots.push(await retrying(() => vigil.submit(`c-${kind}`, input)));
    }
    const rootIds = roots.map((j) => j.id);
    const allTerminal = async (): Promise<boolean> => (await retrying(() => vigil.store.getMany(rootIds))).every((j) => j.state !== 'queued' && j.state !== 'running');
    const restartEvery = o.restarts ? Math.max(1, Math.floor(o.kills / (o.restarts.count + 1))) : Infinity;

    // Kill until the quota is reached AND the jobs are all terminal (kills keep landing while work remains).
    const killDeadline = started + o.timeoutMs * 0.7;
    let registered = new Set<number>();
    while (Date.now() < killDeadline) {
      const done = await allTerminal();
      if (done && workerKills + hostKills >= o.kills) break;
      if (done) {
        // Keep the kills landing on work: more jobs, same mix.
        const kind = KINDS[Math.floor(random() * KINDS.length)]!;
        const n = rootIds.length;
        rootIds.push((await retrying(() => vigil.submit(`c-${kind}`, kind === 'ok' ? { n, ms: 100 } : kind === 'fan' ? { n, kids: 3 } : kind === 'hang' || kind === 'busy' ? {} : { n }))).id);
      }
      await new Promise((r) => setTimeout(r, o.pauseMs[0] + random() * (o.pauseMs[1] - o.pauseMs[0])));
      seenTagged = Math.max(seenTagged, pidsWithEnv('VIGIL_CHAOS_TAG', tag).length);
      // A worker that ended by itself (one started while the database was down gives up) is started again, as a
      // service manager would.
      for (let i = 0; i < workers.length; i++) {
        const w = workers[i]!;
        if (w.exitCode !== null || (w.signalCode !== null && w.signalCode !== 'SIGKILL')) {
          log(`chaos: worker ${w.pid} ended by itself (${w.exitCode ?? w.signalCode}): ${w.output().trim().split('\n').slice(-2).join(' | ')}`);
          workerRespawns++;
          spawnWorker(i);
        }
      }
      if (workerKills + hostKills >= o.kills) continue;
      if (o.restarts && !restarting && dbRestarts < o.restarts.count && workerKills + hostKills >= restartEvery * (dbRestarts + 1)) {
        const { restart, downMs } = o.restarts;
        const down = downMs[0] + Math.floor(random() * (downMs[1] - downMs[0]));
        const mode = dbRestarts % 2 === 0 ? 'fast' : 'immediate';
        dbRestarts++;
        log(`chaos: database restart ${dbRestarts} (${mode}, down ${down} ms) after ${workerKills + hostKills} kills`);
        const t0 = Date.now();
        restarting = restart(down, mode).then(() => {
          dbDownMs += Date.now() - t0;
          restarting = null;
        });
      }
      // Only a worker that has started (registered in the store) is a victim: on a loaded machine a `vigil worker`
      // takes seconds to start, and kills that only ever cut starts short would never reach a running attempt.
      try {
        if (!restarting) registered = new Set((await vigil.store.listWorkers()).map((w) => w.pid));
      } catch {
        // The database is away: the last list known stands (kills go on during restarts).
      }
      const eligible = workers.map((_, n) => n).filter((n) => registered.has(workers[n]!.pid!));
      if (eligible.length === 0) continue;
      const i = eligible[Math.floor(random() * eligible.length)]!;
      const w = workers[i]!;
      const hosts = descendants(w.pid!).filter((pid) => isNode(pid));
      if (random() < 0.4 || hosts.length === 0) {
        w.kill('SIGKILL');
        workerKills++;
        spawnWorker(i);
      } else {
        const victim = hosts[Math.floor(random() * hosts.length)]!;
        try {
          process.kill(victim, 'SIGKILL');
          hostKills++;
        } catch {
          // Gone meanwhile.
        }
      }
    }
    if (restarting) await restarting;
    log(`chaos: ${workerKills} worker kills, ${hostKills} host kills, ${dbRestarts} database restarts in ${Date.now() - started} ms; waiting for the jobs to finish`);
    await until('every job to be terminal', Math.max(30_000, started + o.timeoutMs - Date.now()), allTerminal);
    // A graceful stop of every worker: nothing is running, so they exit at once.
    for (const w of workers) w.kill('SIGTERM');
    await until('the workers to exit', 30_000, () => workers.every((w) => w.exitCode !== null || w.signalCode !== null));
    // A worker killed near the end may have left programs that only a restart on the host reaps: start one worker
    // more (as the operator's supervisor would), let it reap, stop it.
    spawnWorker(0);
    await until(`the last worker to start (${workers[0]!.output()})`, 60_000, async () => (await retrying(() => vigil.store.listWorkers())).some((w) => w.pid === workers[0]!.pid));
    workers[0]!.kill('SIGTERM');
    await until('the last worker to exit', 30_000, () => workers[0]!.exitCode !== null || workers[0]!.signalCode !== null);
    await until(`no process started by the run to be left (pids ${pidsWithEnv('VIGIL_CHAOS_TAG', tag).map((p) => `${p} ${cmdline(p)}`).join('; ')})`, 5_000, () => pidsWithEnv('VIGIL_CHAOS_TAG', tag).length === 0);

    if (seenTagged < 3) throw new Error(`the run's processes were not found by their environment (saw ${seenTagged}): the leftover check would prove nothing`);

    // Invariants from the store.
    const all: Job[] = [];
    for (let before: string | undefined; ; ) {
      const page = await retrying(() => vigil.store.list({ limit: 500, beforeId: before }));
      all.push(...page);
      if (page.length < 500) break;
      before = page[page.length - 1]!.id;
    }
    const byId = new Map(all.map((j) => [j.id, j]));
    for (const id of rootIds) if (!byId.has(id)) throw new Error(`job ${id} was lost`);
    const states: Record<string, number> = {};
    const outcomes: Record<string, number> = {};
    let attempts = 0;
    for (const job of all) {
      states[job.state] = (states[job.state] ?? 0) + 1;
      if (job.state === 'queued' || job.state === 'running') throw new Error(`job ${job.id} (${job.task}) is ${job.state} at the end`);
      const list = await retrying(() => vigil.store.attempts(job.id));
      attempts += list.length;
      for (const a of list) outcomes[a.outcome ?? 'unfinished'] = (outcomes[a.outcome ?? 'unfinished'] ?? 0) + 1;
      const unfinished = list.filter((a) => a.outcome === null);
      if (unfinished.length > 0) throw new Error(`job ${job.id} (${job.task}, ${job.state}) has an attempt without an outcome`);
      const succeeded = list.filter((a) => a.outcome === 'succeeded').length;
      if (job.state === 'succeeded' && succeeded !== 1) throw new Error(`job ${job.id} (${job.task}) succeeded with ${succeeded} succeeded attempts`);
      if (job.state !== 'succeeded' && succeeded !== 0) throw new Error(`job ${job.id} (${job.task}) is ${job.state} but has a succeeded attempt`);
      if (job.task === 'c-fan' && job.state === 'succeeded') {
        const kids = all.filter((k) => k.parentId === job.id);
        const result = job.result as Array<{ key: string; status: string }>;
        if (result.length !== kids.length) throw new Error(`fan ${job.id}: ${result.length} outcomes for ${kids.length} children`);
        for (const r of result) {
          const kid = kids.find((k) => k.childKey === r.key);
          if (!kid) throw new Error(`fan ${job.id}: no child ${r.key}`);
          if (r.status !== kid.state) throw new Error(`fan ${job.id}: child ${r.key} is ${kid.state}, the parent saw ${r.status}`);
        }
      }
    }
    return {
      store: o.storeUrl.startsWith('sqlite') ? 'sqlite' : 'postgres',
      jobs: rootIds.length,
      children: all.length - rootIds.length,
      attempts,
      workerKills,
      hostKills,
      states,
      outcomes,
      ms: Date.now() - started,
      seenTagged,
      dbRestarts,
      dbDownMs,
      workerRespawns,
    };
  } finally {
    if (restarting) await (restarting as Promise<void>).catch(() => undefined);
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await vigil.close();
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
  } catch {
    return '?';
  }
}

export function formatFigures(f: ChaosFigures): string {
  const db = f.dbRestarts > 0 ? `, ${f.dbRestarts} database restarts (down ${(f.dbDownMs / 1000).toFixed(1)} s in all)` : '';
  const respawns = f.workerRespawns > 0 ? `, ${f.workerRespawns} workers that ended by themselves started again` : '';
  return `chaos ${f.store}: ${f.workerKills + f.hostKills} kills survived (${f.workerKills} workers, ${f.hostKills} executor hosts)${db}${respawns}; ${f.jobs} jobs + ${f.children} children, ${f.attempts} attempts; states ${JSON.stringify(f.states)}; attempt outcomes ${JSON.stringify(f.outcomes)}; ${(f.ms / 1000).toFixed(1)} s`;
}

