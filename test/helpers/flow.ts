import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Vigil } from '../../src/index.js';
import { waitUntil, type StoreLocation } from './stores.js';
import { CLI } from './cli.js';

export const FLOW_TASKS = 'test/fixtures/flow-tasks.ts';

/**
 * A real `vigil worker` process, run from source (the tests of this branch must not depend on a stale build).
 * Its output is kept for failure messages.
 */
export function startWorkerProcess(storeUrl: string, tasks: string, args: string[] = []): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [...CLI, 'worker', '--tasks', resolve(tasks), '--store', storeUrl, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', ms = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await gone;
  clearTimeout(timer);
}

/** The most attempt starts found in any half-open window [t, t + windowMs). */
export function maxInWindow(starts: number[], windowMs: number): number {
  const s = [...starts].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Submits `n` jobs of `limited` (10 per 1 s), runs `processes` worker processes, and measures from attempt starts. */
export async function rateLimitRun(loc: StoreLocation, n: number, processes = 3): Promise<{ starts: number[]; spanMs: number; totalMs: number; maxPerSecond: number }> {
  const vigil = await Vigil.open({ store: loc.url, tasks: FLOW_TASKS });
  try {
    const concurrency = 6;
    const workers = Array.from({ length: processes }, () => startWorkerProcess(loc.url, FLOW_TASKS, ['--concurrency', String(concurrency), '--quiet']));
    try {
      // Cold executor hosts take seconds to start under load: warm them first, so the measure is the limiter's.
      const warmups = processes * concurrency;
      await Promise.all(Array.from({ length: warmups }, () => vigil.submit('warm', null)));
      await waitUntil('warm-up jobs', async () => (await vigil.store.counts()).succeeded === warmups, 60_000, 100);
      for (let i = 0; i < n; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, k) => vigil.submit('limited', { i: i + k })));
      }
      await waitUntil(`${n} limited jobs to finish`, async () => (await vigil.store.counts()).succeeded === n + warmups, 60_000 + n * 200, 100);
    } finally {
      await Promise.all(workers.map((w) => stopProcess(w)));
    }
    const jobs = await vigil.list({ task: 'limited', limit: n + 10 });
    const attempts = (await Promise.all(jobs.map((j) => vigil.store.attempts(j.id)))).flat();
    const starts = attempts.map((a) => a.startedAt).sort((a, b) => a - b);
    const ends = attempts.map((a) => a.finishedAt ?? 0);
    return { starts, spanMs: starts.at(-1)! - starts[0]!, totalMs: Math.max(...ends) - starts[0]!, maxPerSecond: maxInWindow(starts, 1_000) };
  } finally {
    await vigil.close();
  }
}

