import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { signalPid } from './kill.js';
import { HAS_PROC, procScanner, readProcStat, type ProcScanner, type ProcStat, type ProcTable } from './proc-scan.js';

/**
 * The process tree of a program, as seen in /proc, so that ending it ends ALL of it (DESIGN G1). Killing only the
 * direct child leaves its pool workers running; killing only its process group misses descendants that called
 * setsid() (daemons, some pool implementations). So the tracker unions, on every sample:
 * - the root and every descendant by parent pid,
 * - every member of the root's process group,
 * - every pid seen in the tree before that is still alive with the same start time — a descendant that setsid()s
 *   and whose parent exits is reparented to init and no longer a descendant, but it is remembered here,
 * - and the descendants of all of these.
 * Pids are identified by (pid, start time) so that a recycled pid is never signalled.
 *
 * What this can not do without cgroups (see docs/command-tasks.md): a process that double-forks and setsid()s
 * entirely between two samples is never seen; a process that enters another pid namespace is only seen by its
 * outer pid while its ancestor link is intact. Only a cgroup (or a pid namespace owned by Vigil) contains a tree
 * with no gap.
 *
 * Elsewhere than Linux (no /proc), the tracker degrades to the root and its process group: sample() returns the
 * root while it lives, rssKb() is 0 (memoryMb is not enforced there) and killAll signals the group and the root.
 */

export { parseStat, readProcStat, type ProcStat } from './proc-scan.js';

function isDead(stat: ProcStat): boolean {
  // A zombie has exited: it holds no memory and no signal reaches it; its parent only has to reap it.
  return stat.state === 'Z' || stat.state === 'X' || stat.state === 'x';
}

export class TreeTracker {
  readonly rootPid: number;
  /** The root's process group: the root leads it when spawned with `detached: true`. */
  readonly pgid: number;
  private readonly rootStart: number | null;
  /** pid → start time of every live process seen in the tree. */
  private readonly known = new Map<number, number>();
  private last: ProcStat[] = [];

  constructor(rootPid: number, private readonly scanner: ProcScanner = procScanner) {
    if (!Number.isInteger(rootPid) || rootPid <= 0) throw new RangeError(`TreeTracker needs a positive pid (got ${rootPid})`);
    this.rootPid = rootPid;
    const stat = readProcStat(rootPid);
    this.pgid = stat ? stat.pgid : rootPid;
    this.rootStart = stat ? stat.startTime : null;
    if (stat) this.known.set(rootPid, stat.startTime);
  }

  /**
   * The live pids of the tree (zombies excluded), root first, from a /proc table at most `maxAgeMs` old (a fresh
   * scan by default: a few ms for a few hundred processes).
   */
  sample(maxAgeMs = 0): number[] {
    return this.observe(this.scanner.table(maxAgeMs)).map((s) => s.pid);
  }

  /** The tree's resident memory in KiB, summed over its processes (pages shared between them count once each). */
  rssKb(table: ProcTable = this.scanner.table()): number {
    let total = 0;
    for (const stat of this.observe(table)) total += stat.rssKb ?? 0;
    return total;
  }

  /** Calls `fn` with the tree's live processes on the shared scanner's ticks (see ProcScanner.every). */
  watch(firstMs: number, fn: (tree: ProcStat[], table: ProcTable) => number | null): () => void {
    return this.scanner.every(firstMs, (table) => fn(this.observe(table), table));
  }

  /** The processes of the last sample (for hang reports). */
  lastSample(): ProcStat[] {
    return this.last;
  }

  /**
   * Sends `signal` to the root's process group and to every live process of the tree (each checked by start time,
   * so a recycled pid is left alone). Never throws.
   */
  killAll(signal: NodeJS.Signals): void {
    // Sample BEFORE signalling the group: once a parent dies, its setsid() children are reparented to init and
    // only a sample taken while the parent lived links them to the tree.
    const tree = HAS_PROC ? this.observe(this.scanner.table()) : [];
    let groupSignalled = false;
    // Only a group seen alive is signalled: once it is empty, its id may be reused by an unrelated group.
    if (!HAS_PROC || tree.some((s) => s.pgid === this.pgid)) {
      try {
        process.kill(-this.pgid, signal);
        groupSignalled = true;
      } catch {
        // The group emptied meanwhile: the members that left it are signalled one by one below.
      }
    }
    if (!HAS_PROC) {
      if (!groupSignalled) signalPid(this.rootPid, signal);
      return;
    }
    for (const stat of tree) {
      // Group members got it already; a second SIGTERM/SIGINT means "quit now, skip cleanup" to many programs.
      if (groupSignalled && stat.pgid === this.pgid) continue;
      signalPid(stat.pid, signal);
    }
  }

  /** The tree's live processes in `table`; remembers them so that members reparented later stay in the tree. */
  observe(table: ProcTable): ProcStat[] {
    if (!HAS_PROC) {
      const alive = isAlive(this.rootPid);
      this.last = alive ? [{ pid: this.rootPid, ppid: 0, pgid: this.pgid, sid: 0, state: '?', comm: '?', startTime: 0 }] : [];
      return this.last;
    }
    const seeds: ProcStat[] = [];
    for (const [pid, start] of this.known) {
      const stat = table.byPid.get(pid);
      if (stat && stat.startTime === start) seeds.push(stat);
    }
    for (const stat of table.groups.get(this.pgid) ?? []) {
      // A group member started before the root can not be ours: the pgid was recycled from an older group.
      if (this.rootStart === null || stat.startTime >= this.rootStart) seeds.push(stat);
    }
    const tree: ProcStat[] = [];
    const seen = new Set<number>();
    const queue = seeds;
    for (let i = 0; i < queue.length; i++) {
      const stat = queue[i]!;
      if (seen.has(stat.pid)) continue;
      seen.add(stat.pid);
      tree.push(stat);
      for (const child of table.children.get(stat.pid) ?? []) if (!seen.has(child.pid)) queue.push(child);
    }
    // Remember the living; forget the dead so the map stays the size of the live tree.
    this.known.clear();
    const live = tree.filter((s) => !isDead(s));
    for (const stat of live) this.known.set(stat.pid, stat.startTime);
    live.sort((a, b) => (a.pid === this.rootPid ? -1 : b.pid === this.rootPid ? 1 : a.startTime - b.startTime || a.pid - b.pid));
    this.last = live;
    return live;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The processes that one thread of process `pid` started, and all their descendants. Linux lists a process's
 * children per thread (/proc/<pid>/task/<tid>/children: the thread that forked is the child's parent), which is how
 * a task thread's programs are told apart from those of the other threads of the same executor host. A thread's
 * children move to another thread of the process once it exits, so this must be read while the thread lives.
 * Not seen: descendants whose own parent already exited (reparented to init). Empty elsewhere than Linux.
 */
export function threadDescendants(tid: number, pid: number = process.pid, scanner: ProcScanner = procScanner): ProcStat[] {
  if (!HAS_PROC) return [];
  let listed: string;
  try {
    listed = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
  } catch {
    return [];
  }
  return descendantsOf(listed, pid, scanner);
}

/**
 * threadDescendants for one thread asked at the end of every attempt: its children file stays open, so a check is
 * one pread, not open + fstat + read + close (~4x the time on Linux; most attempts start no program at all).
 */
export class ThreadChildren {
  private fd: number | null = null;
  private readonly buf = Buffer.allocUnsafe(512);

  constructor(
    private readonly tid: number,
    private readonly pid: number = process.pid,
    private readonly scanner: ProcScanner = procScanner,
  ) {
    if (!HAS_PROC) return;
    try {
      this.fd = openSync(`/proc/${pid}/task/${tid}/children`, 'r');
    } catch {
      // Not readable (gone already, or /proc hidden): threadDescendants below says the same.
    }
  }

  /** The processes the thread started and their descendants, as threadDescendants(tid). */
  descendants(): ProcStat[] {
    if (this.fd === null) return threadDescendants(this.tid, this.pid, this.scanner);
    let n: number;
    try {
      n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      // The thread exited: its children moved to another thread (the caller kills what it knows of by then).
      return [];
    }
    if (n === 0) return [];
    // A list longer than the buffer is read whole (seq_file: a pread at 0 regenerates it).
    if (n === this.buf.length) return threadDescendants(this.tid, this.pid, this.scanner);
    return descendantsOf(this.buf.toString('latin1', 0, n), this.pid, this.scanner);
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Closed is closed.
    }
    this.fd = null;
  }
}

function descendantsOf(text: string, pid: number, scanner: ProcScanner): ProcStat[] {
  const listed = text.trim();
  // Most attempts start no program: no scan of /proc for them.
  if (listed === '') return [];
  const table = scanner.table();
  const queue: ProcStat[] = [];
  for (const child of listed.split(' ')) {
    const stat = table.byPid.get(Number(child));
    // Still our child (a pid that exited and was reused since is someone else's).
    if (stat && stat.ppid === pid) queue.push(stat);
  }
  const seen = new Set<number>();
  const tree: ProcStat[] = [];
  for (let i = 0; i < queue.length; i++) {
    const stat = queue[i]!;
    if (seen.has(stat.pid)) continue;
    seen.add(stat.pid);
    if (!isDead(stat)) tree.push(stat);
    for (const child of table.children.get(stat.pid) ?? []) queue.push(child);
  }
  return tree;
}

const POLL_MS = 25;
/** After SIGKILL, how long to wait for the tree to be gone. SIGKILL is not deferrable, except by a process stuck in
 * uninterruptible I/O (state D), which dies when the I/O returns. */
const KILL_BOUND_MS = 1_000;

/**
 * Ends the whole tree: SIGTERM (and SIGCONT, so a stopped process can act on it) to everything, up to `graceMs` for
 * it to exit, then SIGKILL until nothing is left, bounded by ~1 s. Resolves when the tree is gone or the bound
 * passed; never throws.
 */
export async function killTree(tracker: TreeTracker, graceMs: number): Promise<void> {
  if (graceMs > 0) {
    tracker.killAll('SIGTERM');
    tracker.killAll('SIGCONT');
    if (await waitGone(tracker, graceMs)) return;
  }
  await killNow(tracker);
}

/** SIGKILL to the tree, repeated while new members appear (a fork racing the kill), until gone or ~1 s. */
export async function killNow(tracker: TreeTracker, boundMs: number = KILL_BOUND_MS): Promise<boolean> {
  const until = Date.now() + boundMs;
  for (;;) {
    tracker.killAll('SIGKILL');
    if (tracker.sample().length === 0) return true;
    if (Date.now() >= until) return false;
    await delay(POLL_MS);
  }
}

/** Polls /proc until the tree is gone; false when `ms` passed first. */
export async function waitGone(tracker: TreeTracker, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (tracker.sample().length === 0) return true;
    const left = until - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(POLL_MS, left));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
