import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
// process.platform, not `import { platform } from 'node:process'`: the first ESM import of node:process builds a
// facade of every property of process, which opens stdin (a handle the importing process never asked for).
const { arch, platform } = process;
import { execFileSync } from 'node:child_process';
import { isMainThread } from 'node:worker_threads';
import type { ProcessSnapshot } from '../types.js';
import { describeSyscall, syscallName } from './syscalls.js';

/**
 * What the operating system says each process (and thread) of a stuck attempt is doing, from /proc on Linux:
 * state, wait channel, the system call it sits in and — decoded from that call's arguments — what it is blocked on
 * ("reading fd 0 (pipe:[1234], a pipe)"). Every read is best effort: a process may exit mid-snapshot, and
 * /proc/<pid>/syscall needs ptrace rights; what can not be read is left out, never thrown.
 */

/** Threads listed per process; a thread pool of hundreds would drown the report. */
const MAX_THREADS = 32;

export type ThreadSnapshot = NonNullable<ProcessSnapshot['threads']>[number] & { blockedOn?: string };

export function snapshotProcesses(pids: number[]): ProcessSnapshot[] {
  return snapshotProcessesWithNotes(pids).processes;
}

/** Same as snapshotProcesses, plus notes on what could not be read (another OS, missing permissions). */
export function snapshotProcessesWithNotes(pids: number[]): { processes: ProcessSnapshot[]; notes: string[] } {
  const unique = [...new Set(pids)].filter((pid) => Number.isInteger(pid) && pid > 0);
  if (platform !== 'linux') return snapshotWithPs(unique);
  const processes: ProcessSnapshot[] = [];
  const notes: string[] = [];
  for (const pid of unique) {
    const snap = snapshotLinuxProcess(pid);
    if (snap) processes.push(snap);
    else notes.push(`process ${pid} had exited before its snapshot`);
  }
  if (processes.some((p) => p.state && p.state !== 'Z' && p.syscall === undefined)) {
    notes.push('system calls were not readable for some processes (/proc/<pid>/syscall needs ptrace permission over them)');
  }
  return { processes, notes };
}

function snapshotLinuxProcess(pid: number): ProcessSnapshot | null {
  const stat = readStat(`/proc/${pid}/stat`);
  if (!stat) return null;
  const snap: ProcessSnapshot = {
    pid,
    ppid: stat.ppid,
    pgid: stat.pgid,
    command: readCmdline(pid) ?? `[${stat.comm}]`,
    state: stat.state,
  };
  const facts = threadFacts(`/proc/${pid}`, pid);
  if (facts.wchan) snap.wchan = facts.wchan;
  if (facts.syscall) snap.syscall = facts.syscall;
  if (facts.blockedOn) snap.blockedOn = facts.blockedOn;
  const rss = readText(`/proc/${pid}/statm`)?.split(' ')[1];
  if (rss) snap.rssKb = (Number(rss) * 4096) / 1024;
  const threads = snapshotThreads(pid);
  if (threads.length > 1) {
    snap.threads = threads.slice(0, MAX_THREADS);
    // The main thread may idle in epoll while another thread holds the real wait: surface it on the process.
    if (!snap.blockedOn || isIdleWait(snap.syscall)) {
      const busy = threads.find((t) => t.tid !== pid && t.blockedOn && !isIdleWait(t.syscall));
      if (busy) snap.blockedOn = `${snap.blockedOn ? `${snap.blockedOn}; ` : ''}thread ${busy.tid}: ${busy.blockedOn}`;
    }
  }
  return snap;
}

/** Every thread of a process with its state, wait channel, system call and what it is blocked on. */
export function snapshotThreads(pid: number | 'self'): ThreadSnapshot[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const owner = pid === 'self' ? process.pid : pid;
  const threads: ThreadSnapshot[] = [];
  for (const tid of tids.map(Number).sort((a, b) => a - b)) {
    const dir = `/proc/${pid}/task/${tid}`;
    const stat = readStat(`${dir}/stat`);
    if (!stat) continue;
    const facts = threadFacts(dir, owner);
    const thread: ThreadSnapshot = { tid, name: stat.comm, state: stat.state };
    if (facts.wchan) thread.wchan = facts.wchan;
    if (facts.syscall) thread.syscall = facts.syscall;
    if (facts.blockedOn) thread.blockedOn = facts.blockedOn;
    threads.push(thread);
  }
  return threads;
}

/** Waits that mean "nothing to do" rather than "stuck on something": event loops and parked pool threads. */
export function isIdleWait(syscall: string | undefined): boolean {
  return syscall === undefined || /^(epoll_wait|epoll_pwait|epoll_pwait2|futex|poll|ppoll|select|pselect6|io_uring_enter)\b/.test(syscall);
}

interface Stat {
  comm: string;
  state: string;
  ppid: number;
  pgid: number;
}

function readStat(path: string): Stat | null {
  const text = readText(path);
  if (!text) return null;
  // comm may hold spaces and parentheses: it runs from the first '(' to the LAST ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  return { comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]), pgid: Number(rest[2]) };
}

function readCmdline(pid: number): string | null {
  const raw = readText(`/proc/${pid}/cmdline`);
  if (!raw) return null; // kernel threads and zombies have none
  return raw.replace(/\0+$/, '').split('\0').map(quoteArg).join(' ');
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function threadFacts(dir: string, pid: number): { wchan?: string; syscall?: string; blockedOn?: string } {
  const out: { wchan?: string; syscall?: string; blockedOn?: string } = {};
  const wchan = readText(`${dir}/wchan`)?.trim();
  if (wchan && wchan !== '0') out.wchan = wchan;
  // Our own main thread is busy reading this very file: say so rather than decode the read of /proc.
  if (isMainThread && pid === process.pid && (dir === `/proc/${pid}` || dir.endsWith(`/task/${pid}`))) {
    out.syscall = 'running (taking this snapshot)';
    return out;
  }
  const raw = readText(`${dir}/syscall`)?.trim();
  if (!raw) return out;
  if (raw === 'running') {
    out.syscall = 'running (on a CPU, not in a system call)';
    out.blockedOn = 'nothing: it is running (a busy loop or long computation)';
    return out;
  }
  const fields = raw.split(' ');
  const nr = Number(fields[0]);
  if (nr === -1) {
    out.syscall = 'none (blocked outside a system call)';
    return out;
  }
  if (!Number.isInteger(nr)) return out;
  const args = fields.slice(1, 7).map((hex) => BigInt(hex));
  const name = syscallName(nr, arch);
  out.syscall = name ?? `syscall ${nr}`;
  const blocked = describeSyscall(name, args, {
    fdTarget: (fd) => readLink(`/proc/${pid}/fd/${fd}`),
    readString: (address) => readUserString(pid, address),
    pathKind: (path) => pathKind(pid, path),
    socketKind: (inode) => socketKind(pid, inode),
  });
  if (blocked) out.blockedOn = blocked;
  return out;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function readLink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** Node gives a child's stdio 'pipe' as a UNIX socket pair, so "a socket" alone would mislead. */
function socketKind(pid: number, inode: string): string | null {
  const unix = readText(`/proc/${pid}/net/unix`);
  if (unix) {
    for (const line of unix.split('\n')) {
      const f = line.trim().split(/\s+/);
      // Num RefCount Protocol Flags Type St Inode [Path]
      if (f[6] === inode) return f[7] ? `a UNIX socket at ${f[7]}` : 'an unnamed UNIX socket: a pipe as Node and others create it';
    }
  }
  for (const table of ['tcp', 'tcp6']) {
    const text = readText(`/proc/${pid}/net/${table}`);
    if (!text) continue;
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f[9] === inode) return `a TCP socket ${hexAddress(f[1]!)} → ${hexAddress(f[2]!)}`;
    }
  }
  return null;
}

function hexAddress(text: string): string {
  const [ip, port] = text.split(':');
  if (!ip || !port) return text;
  const p = parseInt(port, 16);
  if (ip.length === 8) {
    const bytes = (ip.match(/../g) ?? []).map((b) => parseInt(b, 16)).reverse();
    return `${bytes.join('.')}:${p}`;
  }
  return `[${ip}]:${p}`;
}

/** Relative paths are resolved against the process's own working directory. */
function pathKind(pid: number, path: string): string | null {
  try {
    const st = statSync(path.startsWith('/') ? path : `/proc/${pid}/cwd/${path}`);
    return st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch {
    return null;
  }
}

/** A NUL-terminated string from the process's memory (a path argument of open/openat); needs ptrace rights. */
function readUserString(pid: number, address: bigint): string | null {
  if (address === 0n) return null;
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/mem`, 'r');
    const buf = Buffer.alloc(512);
    const n = readSync(fd, buf, 0, buf.length, address);
    const end = buf.subarray(0, n).indexOf(0);
    return buf.subarray(0, end < 0 ? n : end).toString('utf8');
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The process and every descendant (children before grandchildren), from /proc's parent links. */
export function processTree(rootPid: number): number[] {
  if (platform !== 'linux') return [rootPid];
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [rootPid];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(`/proc/${entry}/stat`);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const out = [rootPid];
  for (let i = 0; i < out.length; i++) for (const child of children.get(out[i]!) ?? []) out.push(child);
  return out;
}

/** Elsewhere than Linux: `ps` knows pid, parent, state and command (and a wait channel on macOS/BSD). */
function snapshotWithPs(pids: number[]): { processes: ProcessSnapshot[]; notes: string[] } {
  const notes = [`${platform}: no /proc, so system calls and what each process is blocked on were not recorded (ps facts only)`];
  if (pids.length === 0) return { processes: [], notes };
  try {
    const text = execFileSync('ps', ['-o', 'pid=,ppid=,pgid=,stat=,wchan=,command=', '-p', pids.join(',')], {
      encoding: 'utf8',
      timeout: 1000,
    });
    const processes: ProcessSnapshot[] = [];
    for (const line of text.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const snap: ProcessSnapshot = { pid: Number(m[1]), ppid: Number(m[2]), pgid: Number(m[3]), state: m[4]!, command: m[6]! };
      if (m[5] !== '-') snap.wchan = m[5]!;
      processes.push(snap);
    }
    return { processes, notes };
  } catch (err) {
    notes.push(`ps failed: ${err instanceof Error ? err.message : String(err)}`);
    return { processes: pids.map((pid) => ({ pid, ppid: 0, command: '?' })), notes };
  }
}
