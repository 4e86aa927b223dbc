// CPU time of this process and its descendants, from /proc: what a job costs, which machine load barely changes
// (unlike wall time). Used by bench/run.ts and bench/ab-cpu.mts.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime+stime in µs of every live descendant of this process (pid → µs); empty where /proc is missing. */
export function descendantsCpu(): Map<number, number> {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    return new Map();
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command (which may hold spaces and parentheses): state ppid ... utime(14) stime(15).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(name);
    parent.set(pid, Number(rest[1]));
    cpu.set(pid, ((Number(rest[11]) + Number(rest[12])) * 1e6) / TICK);
  }
  const out = new Map<number, number>();
  for (const pid of cpu.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        out.set(pid, cpu.get(pid)!);
        break;
      }
    }
  }
  return out;
}

/** utime+stime in µs of each thread of this process, keyed `name#tid`. */
export function threadsCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}#${tid}`, ((Number(rest[11]) + Number(rest[12])) * 1e6) / TICK);
    } catch {
      // gone
    }
  }
  return out;
}

export function selfCpu(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** A mark to measure from: `since()` gives the CPU (µs) spent after it by this process and by its descendants. */
export function cpuMark(): { since(): { selfUs: number; childrenUs: number; children: number } } {
  const self0 = selfCpu();
  const kids0 = descendantsCpu();
  return {
    since() {
      const kids = descendantsCpu();
      let childrenUs = 0;
      for (const [pid, us] of kids) childrenUs += us - (kids0.get(pid) ?? 0);
      return { selfUs: selfCpu() - self0, childrenUs, children: kids.size };
    },
  };
}

/** utime + stime of these processes, in ms (PostgreSQL backends, say); a pid that is gone counts nothing. */
export function pidsCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

/**
 * CPU time in µs the whole machine spent busy (every CPU, /proc/stat: all but idle and iowait). Less what the
 * bench's own processes spent, it is what the rest cost — the store's PostgreSQL backends, WAL writer and
 * checkpointer on an otherwise idle machine, including backends that ended before the measure did.
 */
export function machineBusyUs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return ((user + nice + system + irq + softirq + steal) * 1e6) / TICK;
}
