// process.platform, not `import { platform } from 'node:process'`: the first ESM import of node:process builds a
// facade of every property of process, which opens stdin (a handle the importing process never asked for).
const { platform } = process;
import type { ProcessSnapshot } from '../types.js';
import { isIdleWait, snapshotProcessesWithNotes, type ThreadSnapshot } from './proc-snapshot.js';

/**
 * When a thread does not answer the inspector, the OS is the only witness: this process's threads with their state,
 * wait channel and system call, and a guess at which one is the stuck task thread. Node does not tell a worker's
 * OS thread id, so the guess is "a thread other than the main one that is blocked in a non-idle system call, or
 * running" — event loops (epoll_wait) and parked pool threads (futex) are idle waits.
 */
export function osThreadFacts(threadId: number, pid: number = process.pid): { processes: ProcessSnapshot[]; notes: string[] } {
  if (platform !== 'linux') {
    return { processes: [], notes: [`${platform}: no /proc, so the operating system's view of the stuck thread was not recorded`] };
  }
  const { processes, notes } = snapshotProcessesWithNotes([pid]);
  const threads = (processes[0]?.threads ?? []) as ThreadSnapshot[];
  const suspects = threads.filter(
    (t) => t.tid !== pid && ((t.state === 'S' || t.state === 'D') && !isIdleWait(t.syscall) ? true : t.state === 'R'),
  );
  if (suspects.length === 0) {
    notes.push(`no thread of process ${pid} looks blocked outside idle waits; the stuck thread (worker ${threadId}) is among those listed`);
  } else {
    for (const t of suspects) {
      const facts = [`state ${t.state}`, t.wchan ? `wait channel ${t.wchan}` : null, t.syscall ? `system call ${t.syscall}` : null]
        .filter(Boolean)
        .join(', ');
      notes.push(
        `${suspects.length === 1 ? 'the stuck worker thread' : 'possibly the stuck worker thread'} (worker ${threadId}) looks like OS thread ${t.tid} (${t.name ?? '?'}): ${facts}${t.blockedOn ? ` — ${t.blockedOn}` : ''}`,
      );
    }
  }
  return { processes, notes };
}
