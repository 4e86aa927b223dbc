import type { ProcessSnapshot } from '../types.js';
/**
 * When a thread does not answer the inspector, the OS is the only witness: this process's threads with their state,
 * wait channel and system call, and a guess at which one is the stuck task thread. Node does not tell a worker's
 * OS thread id, so the guess is "a thread other than the main one that is blocked in a non-idle system call, or
 * running" — event loops (epoll_wait) and parked pool threads (futex) are idle waits.
 */
export declare function osThreadFacts(threadId: number, pid?: number): {
    processes: ProcessSnapshot[];
    notes: string[];
};
