import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ProcessRoot, ProcessRootsRecord } from '../store/contract.js';
import { hostEvents } from './events.js';
import { armGuardian, guardGroup, releaseGroup } from './guardian.js';
import { HAS_PROC, readAllStats, readProcStat, type ProcStat } from './proc-scan.js';

/**
 * Every process this (supervisor) process has started for attempts — command and ctx.exec programs, executor hosts,
 * attempt processes — as roots: pid, start time, process group. Kept so that what a SIGKILLed supervisor leaves
 * behind can be found and killed by the next worker on the machine (DESIGN G1: nothing an attempt started outlives
 * it). The engine persists the set (store.saveProcessRoots); reap() kills survivors of a dead owner.
 *
 * A root is only ever signalled when its pid AND start time match, so a recycled pid is never hit. Its group and
 * session are killed only when the root led them (detached spawns do), and only while the leader is the same process
 * or gone (a group or session id can not be reused while any member lives).
 */

type Listener = () => void;

class StartedProcesses {
  private readonly roots = new Map<number, ProcessRoot>();
  private readonly listeners = new Set<Listener>();

  /** A root is about to be started: its guardian must already run (guardian.ts, armGuardian). */
  beforeStart(): void {
    if (HAS_PROC) armGuardian();
  }

  add(pid: number): void {
    if (!HAS_PROC || !(pid > 0)) return;
    const stat = readProcStat(pid);
    if (!stat) return;
    this.roots.set(pid, { pid, start: stat.startTime, pgid: stat.pgid });
    // Only groups the root leads (detached spawns): never this process's own group.
    if (stat.pgid === pid) guardGroup(pid);
    for (const l of this.listeners) l();
  }

  /** The root ended (its group was killed with it). */
  remove(pid: number): void {
    const root = this.roots.get(pid);
    if (!root) return;
    this.roots.delete(pid);
    if (root.pgid === root.pid) releaseGroup(root.pid);
    for (const l of this.listeners) l();
  }

  /** The roots still running (the others are forgotten). */
  live(): ProcessRoot[] {
    const out: ProcessRoot[] = [];
    for (const root of [...this.roots.values()]) {
      const stat = readProcStat(root.pid);
      // A failed read of a process that still exists (fd pressure) must not make the guardian forget its group.
      if (stat ? stat.startTime === root.start : existsSync(`/proc/${root.pid}`)) out.push(root);
      else {
        this.roots.delete(root.pid);
        if (root.pgid === root.pid) releaseGroup(root.pid);
      }
    }
    return out;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const startedProcesses = new StartedProcesses();

// Thread hosts and attempt processes announce their fork on this channel (events.ts).
hostEvents.subscribe((message) => {
  const m = message as { event?: string; pid?: number };
  if (m.event === 'forked' && typeof m.pid === 'number') startedProcesses.add(m.pid);
});

let identity: { host: string; bootId: string; pid: number; start: number } | null = null;

/** This process on this machine: pids are only meaningful within one pid namespace of one boot. */
export function selfIdentity(): { host: string; bootId: string; pid: number; start: number } {
  if (identity) return identity;
  let ns = '';
  let bootId = '';
  try {
    ns = readlinkSync('/proc/self/ns/pid');
  } catch {
    // Not Linux: nothing is reaped anyway.
  }
  try {
    bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Idem.
  }
  identity = { host: `${hostname()} ${ns}`, bootId, pid: process.pid, start: readProcStat(process.pid)?.startTime ?? 0 };
  return identity;
}

/** True when the record's owner (a worker's process) still runs. */
export function ownerAlive(record: ProcessRootsRecord): boolean {
  return readProcStat(record.ownerPid)?.startTime === record.ownerStart;
}

/** SIGKILLs whatever still runs of `roots` (see the module comment for what counts); returns what was killed. */
export function reapRoots(roots: ProcessRoot[]): ProcStat[] {
  if (!HAS_PROC || roots.length === 0) return [];
  const killed = new Map<number, ProcStat>();
  // Three passes: a process forking while it is being reaped leaves a child the first pass could not see.
  for (let pass = 0; pass < 3; pass++) {
    const stats = readAllStats();
    const byPid = new Map(stats.map((s) => [s.pid, s]));
    const targets: ProcStat[] = [];
    for (const root of roots) {
      const self = byPid.get(root.pid);
      if (self && self.startTime === root.start) targets.push(self);
      if (root.pgid !== root.pid) continue;
      // The id still names the root's own group/session: its leader is the root itself or gone.
      if (self && self.startTime !== root.start) continue;
      for (const s of stats) if ((s.pgid === root.pid || s.sid === root.pid) && s.startTime >= root.start) targets.push(s);
    }
    const fresh = targets.filter((s) => s.pid !== process.pid && s.state !== 'Z');
    if (fresh.length === 0) break;
    for (const s of fresh) {
      try {
        process.kill(s.pid, 'SIGKILL');
        killed.set(s.pid, s);
      } catch {
        // Gone.
      }
    }
  }
  return [...killed.values()];
}
