import { readdirSync, readFileSync } from 'node:fs';

/**
 * Signals and kill bounds, shared by every executor and by the processes they fork (thread hosts, attempt
 * processes). A signal to something already gone is not an error: gone is what a kill is for.
 */

/** SIGKILL to the process group led by `pid` (attempt processes and ctx.exec programs each lead their own). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * SIGKILL to every descendant of this process, with the groups they lead — found through the `children` lists of
 * /proc, so a program that left this process's group (a detached spawn, a ctx.exec program whose start has not been
 * announced yet) is found while this process is still its parent. Each is stopped as it is found (it starts nothing
 * more), then all are killed. Linux only; elsewhere nothing is found.
 */
export function killDescendants(root: number = process.pid): void {
  const found: number[] = [];
  const seen = new Set<number>();
  const queue = childrenOf(root);
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    found.push(pid);
    signalPid(pid, 'SIGSTOP');
    queue.push(...childrenOf(pid));
  }
  for (const pid of found) {
    // A live process's pid names a group only if it leads it.
    killGroup(pid);
    signalPid(pid, 'SIGKILL');
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim().split(' ')) if (child) out.push(Number(child));
    } catch {
      // Gone.
    }
  }
  return out;
}

/** `signal` to one process; false when it was already gone. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True when `promise` settled within `ms`: the bound every kill waits under before it escalates. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
