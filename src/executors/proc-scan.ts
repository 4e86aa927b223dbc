import { readdirSync, readFileSync } from 'node:fs';
// process.platform, not `import { platform } from 'node:process'`: the first ESM import of node:process builds a
// facade of every property of process, which opens stdin (a handle the importing process never asked for).
const { platform } = process;

/**
 * One /proc scan shared by every process tree this process watches. A scan reads /proc/<pid>/stat for every process
 * on the machine, synchronously, on the supervisor's event loop: done once per tracker per tick it costs
 * O(attempts × processes) and stalls the loop that must stay responsive (DESIGN G8). So trackers subscribe to ONE
 * scanner, which scans once per tick and serves every subscriber due around that tick from the same table, and
 * which spaces its scans by their own cost (a scan that took d ms is not repeated before COST_FACTOR × d ms), so
 * scanning never takes more than ~1/COST_FACTOR of the loop however many processes the machine runs.
 */

export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  state: string;
  comm: string;
  /** Clock ticks after boot at which the process started: with the pid, its identity. */
  startTime: number;
  rssKb?: number;
}

/** Every process of the machine at one moment, indexed the ways trackers look them up. */
export interface ProcTable {
  /** performance.now() when the scan finished. */
  readonly at: number;
  readonly byPid: ReadonlyMap<number, ProcStat>;
  readonly children: ReadonlyMap<number, readonly ProcStat[]>;
  readonly groups: ReadonlyMap<number, readonly ProcStat[]>;
}

export const HAS_PROC = platform === 'linux';
/** Scans are spaced by at least this many times their own duration. */
const COST_FACTOR = 20;
/** How many of the last scans' durations the spacing looks at (it takes the cheapest). */
const RECENT_SCANS = 3;

let pageKb: number | null = null;

/** The page size in KiB (4 on most machines, 16 or 64 on some ARM kernels). */
function pageSizeKb(): number {
  if (pageKb !== null) return pageKb;
  pageKb = 4;
  try {
    const match = /KernelPageSize:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))
      ?? /KernelPageSize:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/smaps', 'utf8'));
    if (match) pageKb = Number(match[1]);
  } catch {
    // Keep 4.
  }
  return pageKb;
}

/** /proc/<pid>/stat parsed, or null when the process is gone (or this is not Linux). */
export function readProcStat(pid: number): ProcStat | null {
  if (!HAS_PROC) return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  return parseStat(text);
}

export function parseStat(text: string): ProcStat | null {
  // comm may contain spaces and parentheses: it ends at the LAST ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  const pid = Number(text.slice(0, open).trim());
  const ppid = Number(rest[1]);
  const pgid = Number(rest[2]);
  const sid = Number(rest[3]);
  const startTime = Number(rest[19]);
  const rssPages = Number(rest[21]);
  if (!Number.isFinite(pid) || !Number.isFinite(ppid) || !Number.isFinite(startTime)) return null;
  const stat: ProcStat = { pid, ppid, pgid, sid, state: rest[0] ?? '?', comm: text.slice(open + 1, close), startTime };
  if (Number.isFinite(rssPages)) stat.rssKb = rssPages * pageSizeKb();
  return stat;
}

/** Every process's stat (empty elsewhere than Linux). */
export function readAllStats(): ProcStat[] {
  if (!HAS_PROC) return [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = readProcStat(Number(entry));
    if (stat) out.push(stat);
  }
  return out;
}

/** Called with the shared table; returns the delay until it wants the next one, or null to stop. */
export type ScanSubscriber = (table: ProcTable) => number | null;

interface Subscription {
  fn: ScanSubscriber;
  due: number;
  /** Served by a scan up to this long before it is due: subscribers drift into the same ticks. */
  slack: number;
}

export class ProcScanner {
  /** Scans done so far (tests and metrics read it). */
  scans = 0;
  /** How long the last scan took (ms). */
  lastScanMs = 0;
  /**
   * The last scans' durations: the spacing follows the cheapest of them. A scan is synchronous wall time, so one that
   * was preempted (12 attempt processes starting on 2 cores) or paused by a GC measured 135 ms once and, spaced by
   * itself, stopped every tree's sampling — memory limits included — for 2.7 s. A machine whose scans are all slow
   * is still spaced by their cost.
   */
  private readonly recentScanMs: number[] = [];
  private last: ProcTable | null = null;
  private readonly subs = new Set<Subscription>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  constructor(private readonly read: () => ProcStat[] = readAllStats) {}

  /** A table no older than `maxAgeMs` (0: scan now). */
  table(maxAgeMs = 0): ProcTable {
    if (this.last && performance.now() - this.last.at <= maxAgeMs) return this.last;
    return this.scan();
  }

  /**
   * Calls `fn` with a shared table about `firstMs` from now, then after each delay it returns, until it returns null
   * or the returned function is called. `fn` must not throw (a throw stops its subscription).
   */
  every(firstMs: number, fn: ScanSubscriber): () => void {
    const sub: Subscription = { fn, due: performance.now() + firstMs, slack: firstMs / 2 };
    this.subs.add(sub);
    this.arm();
    return () => {
      this.subs.delete(sub);
      if (this.subs.size === 0) this.disarm();
    };
  }

  /** Subscribers waiting for a tick. */
  get subscribers(): number {
    return this.subs.size;
  }

  private scan(): ProcTable {
    const started = performance.now();
    const stats = this.read();
    const byPid = new Map<number, ProcStat>();
    const children = new Map<number, ProcStat[]>();
    const groups = new Map<number, ProcStat[]>();
    for (const stat of stats) {
      byPid.set(stat.pid, stat);
      push(children, stat.ppid, stat);
      push(groups, stat.pgid, stat);
    }
    const at = performance.now();
    this.scans += 1;
    this.lastScanMs = at - started;
    if (this.recentScanMs.push(this.lastScanMs) > RECENT_SCANS) this.recentScanMs.shift();
    this.last = { at, byPid, children, groups };
    return this.last;
  }

  private tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    const due = [...this.subs].filter((s) => s.due - now <= s.slack);
    if (due.length > 0) {
      const table = this.scan();
      for (const sub of due) {
        let next: number | null;
        try {
          next = sub.fn(table);
        } catch {
          next = null;
        }
        if (next === null) this.subs.delete(sub);
        else {
          sub.due = table.at + next;
          sub.slack = next / 2;
        }
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.subs.size === 0) return this.disarm();
    let earliest = Infinity;
    for (const sub of this.subs) earliest = Math.min(earliest, sub.due);
    // However many subscribers, scans stay spaced by their own cost.
    if (this.last) earliest = Math.max(earliest, this.last.at + Math.min(...this.recentScanMs) * COST_FACTOR);
    if (this.timer && this.timerAt <= earliest) return;
    this.disarm();
    this.timerAt = earliest;
    this.timer = setTimeout(() => this.tick(), Math.max(0, earliest - performance.now()));
    // The attempts being watched keep the process alive, not their sampler.
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}

function push(map: Map<number, ProcStat[]>, key: number, stat: ProcStat): void {
  const list = map.get(key);
  if (list) list.push(stat);
  else map.set(key, [stat]);
}

/** The scanner every tracker of this process shares by default. */
export const procScanner = new ProcScanner();
