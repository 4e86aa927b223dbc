import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { until } from './engine.js';
import { CLI } from './cli.js';

/** Pids of the live (not zombie) processes whose command line is exactly `argv`. */
export function pidsRunning(argv: string[]): number[] {
  const want = argv.join('\0');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0$/, '');
      const state = readFileSync(`/proc/${entry}/stat`, 'latin1').split(') ')[1]?.[0];
      if (cmdline === want && state !== 'Z') out.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return out;
}

/** Live processes whose environment holds `KEY=value` (how a test marks everything it starts). */
export function pidsWithEnv(key: string, value: string): number[] {
  const want = Buffer.from(`${key}=${value}\0`);
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const state = readFileSync(`/proc/${entry}/stat`, 'latin1').split(') ')[1]?.[0];
      if (state === 'Z') continue;
      const env = readFileSync(`/proc/${entry}/environ`);
      if (env.includes(want)) out.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

/** Descendants (by ppid) of `root`, not including it. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone.
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [pid, pp] of parent) if (pp === p) {
      out.push(pid);
      queue.push(pid);
    }
  }
  return out;
}

/** A `vigil worker` process (the CLI from source) on `store`. */
export function cliWorker(tasks: string, store: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}, detached = false): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [...CLI, 'worker', '--tasks', tasks, '--store', store, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    detached,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return Object.assign(child, { output: () => out });
}

export async function waitGone(what: string, ms: number, pids: () => number[]): Promise<void> {
  try {
    await until(what, ms, () => pids().length === 0);
  } catch {
    // Each leftover with its state (T: stopped, and by whom it was stopped matters), parent and group.
    throw new Error(`timed out after ${ms} ms waiting for ${what} to be gone (left: ${pids().map(describeProcess).join(', ')})`);
  }
}

/** `pid state ppid pgid` of a live process, for failure messages. */
export function describeProcess(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid} (state ${state}, ppid ${ppid}, pgid ${pgid})`;
  } catch {
    return `${pid} (gone)`;
  }
}
