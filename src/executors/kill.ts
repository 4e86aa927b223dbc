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
