// What bench/peers.ts and its worker processes (bench/vigil-worker.ts, bench/peer-worker.ts) say to each other over
// IPC, and the /proc readings both sides use. No side effects: the bench imports it.
import { readFileSync } from 'node:fs';

export interface WorkerConfig {
  store: string;
  tasks: string;
  concurrency: number;
  leaseMs: number;
  /** 'first': one `started` message, for the first attempt; 'all': one per attempt started. */
  starts: 'first' | 'all';
  /** The grace of the tasks whose kills are timed (`gone` messages: thread gone, relative to deadline + grace). */
  graceMs: number;
  /** Sample the hosts' RSS this often (ms) to report their peak; 0: only on request. */
  sampleMs: number;
}

export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'started'; jobId: string; attempt: number; at: number }
  /** This worker found expired leases and recovered those jobs (Vigil's `recovered` worker event). */
  | { type: 'recovered'; jobIds: string[]; at: number }
  /** A killed attempt's thread is gone (its end reached the supervisor): `lateMs` after its deadline + grace. */
  | { type: 'gone'; jobId: string; lateMs: number; end: string }
  | { type: 'mem'; supervisor: ProcMem; hosts: Array<ProcMem & { pid: number }>; hostsPeakMiB: number }
  | { type: 'stopped' };

export type ToWorker = { type: 'mem' } | { type: 'stop'; drainMs: number };

export interface ProcMem {
  rssMiB: number;
  peakMiB: number;
}

/** Epoch ms with sub-ms resolution, comparable across the bench's processes. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

export function procMem(pid: number): ProcMem | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
  } catch {
    return null;
  }
}
