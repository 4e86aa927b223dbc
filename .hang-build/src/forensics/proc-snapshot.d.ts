import type { ProcessSnapshot } from '../types.js';
export type ThreadSnapshot = NonNullable<ProcessSnapshot['threads']>[number] & {
    blockedOn?: string;
};
export declare function snapshotProcesses(pids: number[]): ProcessSnapshot[];
/** Same as snapshotProcesses, plus notes on what could not be read (another OS, missing permissions). */
export declare function snapshotProcessesWithNotes(pids: number[]): {
    processes: ProcessSnapshot[];
    notes: string[];
};
/** Every thread of a process with its state, wait channel, system call and what it is blocked on. */
export declare function snapshotThreads(pid: number | 'self'): ThreadSnapshot[];
/** Waits that mean "nothing to do" rather than "stuck on something": event loops and parked pool threads. */
export declare function isIdleWait(syscall: string | undefined): boolean;
/** The process and every descendant (children before grandchildren), from /proc's parent links. */
export declare function processTree(rootPid: number): number[];
