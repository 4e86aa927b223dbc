import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Vigil } from '../../src/index.js';
import type { StartWorkerOptions } from '../../src/vigil.js';

export const ENGINE_TASKS = resolve('test/fixtures/engine-tasks.ts');

export interface TestVigil {
  vigil: Vigil;
  dir: string;
  storeUrl: string;
  cleanup(): Promise<void>;
}

/** A Vigil on a fresh SQLite file (or `storeUrl`), with the engine fixtures as its tasks module. */
export async function openTestVigil(options: { tasks?: string; storeUrl?: string } = {}): Promise<TestVigil> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-test-'));
  const storeUrl = options.storeUrl ?? `sqlite:${join(dir, 'vigil.db')}`;
  const vigil = await Vigil.open({ store: storeUrl, tasks: options.tasks ?? ENGINE_TASKS });
  return {
    vigil,
    dir,
    storeUrl,
    async cleanup() {
      await vigil.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startWorker(v: Vigil, options: StartWorkerOptions = {}) {
  return v.startWorker({ concurrency: 2, pollMs: 100, ...options });
}

/** Polls `check` until it returns a value, failing after `ms`. Every wait in the suite has a bound. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined | null | false> | T | undefined | null | false): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** utime + stime (clock ticks) of a process, or null when it is gone. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Pids of this process's direct children (the executor hosts and process attempts). */
export function childPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSafe('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

import { readdirSync } from 'node:fs';
function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
