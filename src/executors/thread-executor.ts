import { VigilError } from '../errors.js';
import { DirectIn } from './direct-in.js';
import { HostProcess } from './host-process.js';
export { hostEvents } from './events.js';
import { positiveInt } from './options.js';
import { ThreadAttempt, type ThreadQueue } from './thread-attempt.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, Executor, PrewarmRequest, RunningAttempt } from './types.js';

/**
 * Isolation 'thread': attempts run in worker threads of executor host processes forked by this supervisor. Task
 * threads never live in the supervisor's process, because a thread blocked in a syscall (a FIFO read) or in long
 * native code (pbkdf2Sync) can not be terminated — only SIGKILL of its process ends it (DESIGN G1).
 *
 * Warm threads first (piscina's model): an attempt goes to an idle thread; when none is idle it waits here, in
 * order, for the first thread that becomes free — one freed by an ending attempt (given in the same turn as the
 * end) or a new one that finished starting. A new thread costs a Worker, tsx and the tasks module: hundreds of ms
 * of CPU and ~30 MiB. Starting one per attempt that finds no idle thread made 50 no-op attempts started at once
 * fork 13 hosts and 2.4 GiB (bench/NOTES.md), while the first warm threads were free again within a millisecond.
 * So threads (and hosts) start only while attempts wait, at most `coldStarts` at a time, never more than the
 * waiting attempts need; a thread that finds nothing waiting stays idle and is kept. And while threads of the
 * waiting attempts' memory limit are busy (they will be free again), only for a backlog that has lasted `growAfterMs`
 * during which the threads ran attempts at least BUSY_SHARE of the time — both unless attempts are known to be long
 * (attemptsLong). A worker whose slots outnumber the threads
 * keeps a queue here whenever the machine is saturated (the supervisor and hosts can not dispatch faster): the
 * threads then sit idle between short attempts, and a thread started for that queue adds nothing but memory — it
 * grew a C=50 drain of no-op jobs to 16 threads where 4 ran it as fast. Long attempts keep their threads busy, so
 * they still get a thread each, `coldStarts` at a time.
 */

/** Threads count as the bottleneck when they ran attempts this share of the time lately. */
const BUSY_SHARE = 0.5;
/**
 * The growth look and the `coldStarts` bound apply unless attempts are known to be long: the median of the last
 * RECENT_RUNS attempts held its thread SHORT_MS or more, or (no history yet) a running attempt has held its thread
 * LONG_MS. Long attempts (renders, transcodes — what Vigil is for) then get a thread each for every waiting attempt
 * at once: a look, or a few cold starts at a time, would only delay work that will need every thread anyway.
 */
const SHORT_MS = 50;
const RECENT_RUNS = 9;
/** Before there is a history: an attempt that has held its thread this long shows the attempts are long. */
const LONG_MS = 500;

export interface ThreadExecutorOptions {
  /** Threads per host process before another host is forked (default 4). */
  threadsPerHost?: number;
  /** How long a thread may take to terminate before its whole host is SIGKILLed (default 250 ms). */
  killBoundMs?: number;
  /** An idle host beyond the first is stopped after this long (default 30 s). */
  hostIdleMs?: number;
  /**
   * Threads starting at once while attempts wait for one (default 4: start-up is CPU-bound, but a start also waits on
   * module reads and its host's fork; with 2, twenty 3 s attempts were not all running after 3 s where starting them
   * all at once had them running in ~2.5 s).
   */
  coldStarts?: number;
  /**
   * While threads of their memory limit are busy, attempts must have been waiting without a break this long (and the
   * threads busy for half of it) before a thread is started for them (default 1 s: a shorter look is noisy — at
   * 100 ms a saturated C=50 no-op drain still grew to 16-18 threads, at 1 s it stayed at 4, same minutes).
   */
  growAfterMs?: number;
  /** Where a host's own output (not a task's) goes; default: this process's stderr. */
  onHostOutput?: (line: string, hostPid: number) => void;
}

type Limit = number | null;

export class ThreadExecutor implements Executor {
  private readonly threadsPerHost: number;
  private readonly killBoundMs: number;
  private readonly hostIdleMs: number;
  private readonly coldStarts: number;
  private readonly growAfterMs: number;
  /** Since when attempts have been waiting without a break (null: none waits). */
  private backlogSince: number | null = null;
  private growTimer: ReturnType<typeof setTimeout> | null = null;
  /** Re-checks attemptsLong() once the oldest running attempt has held its thread SHORT_MS. */
  private longTimer: ReturnType<typeof setTimeout> | null = null;
  /** The last look found the threads busy: threads may be started while the backlog lasts. */
  private growing = false;
  /** Thread time used by attempts that ended since `busySince` (ms), for the BUSY_SHARE rule. */
  private busyMs = 0;
  private busySince = performance.now();
  /** How long the last RECENT_RUNS attempts held their threads (ms). */
  private readonly recentRuns: number[] = [];
  private readonly onHostOutput: (line: string, hostPid: number) => void;
  private readonly hosts = new Set<HostProcess>();
  private readonly attempts = new Map<string, ThreadAttempt>();
  /** Attempts waiting for a free thread, oldest first. */
  private readonly waiting = new Set<ThreadAttempt>();
  private readonly queue: ThreadQueue = {
    withdraw: (attempt) => {
      this.waiting.delete(attempt);
      this.noteBacklog();
    },
    describeWait: (attempt) => this.describeWait(attempt),
    parkedChanged: () => {
      if (!this.closed) this.pump();
    },
  };
  /**
   * The warm size (prewarm), with its limit and the module its threads load: threads started before the first
   * attempt. While fewer threads than that work (the others killed, or parked under parents awaiting children), an
   * attempt that waits gets a thread without the growth look. Threads are not started ahead of need after the
   * warm-up (to replace killed or parked ones): threads warming that nobody asked for compete for the CPU with the
   * attempts running and their hang captures, and run on after a job tree ended (tree-deadline's "nothing left").
   * Dropped when a warm thread can not start (it would fail again).
   */
  private warmTarget: { threads: number; memoryMb: Limit; tasksModule: string } | null = null;
  private warmWaiters: Array<() => void> = [];
  /** prewarm() is starting the warm threads (until they are all there). */
  private warming = false;
  private closed = false;
  /** Hosts forked so far (tests and metrics read it). */
  hostsStarted = 0;
  /** Threads of hosts already gone, as they reported (threadsCreated adds the live hosts'). */
  private threadsOfGoneHosts = 0;
  private directEndsOfGoneHosts = 0;
  private directStartsOfGoneHosts = 0;
  /** Where task threads connect for direct starts (ipc.ts DIRECT_IN); made with the first host. */
  private directIn: DirectIn | null | undefined;

  constructor(options: ThreadExecutorOptions = {}) {
    this.threadsPerHost = positiveInt('ThreadExecutor', options.threadsPerHost, 'threadsPerHost', 4);
    this.killBoundMs = positiveInt('ThreadExecutor', options.killBoundMs, 'killBoundMs', 250);
    this.hostIdleMs = positiveInt('ThreadExecutor', options.hostIdleMs, 'hostIdleMs', 30_000);
    this.coldStarts = positiveInt('ThreadExecutor', options.coldStarts, 'coldStarts', 4);
    this.growAfterMs = options.growAfterMs === undefined ? 1_000 : nonNegative(options.growAfterMs);
    this.onHostOutput = options.onHostOutput ?? ((line, pid) => process.stderr.write(`[vigil executor host ${pid}] ${line}\n`));
  }

  start(spec: AttemptSpec, channel: AttemptChannel): RunningAttempt {
    if (this.closed) throw new VigilError('VIGIL_CLOSED', 'the thread executor is closed; start a new worker to run attempts');
    if (this.attempts.has(spec.key)) throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
    const attempt = new ThreadAttempt(spec, channel, this.queue, this.killBoundMs);
    this.attempts.set(spec.key, attempt);
    void attempt.done.then(() => this.attempts.delete(spec.key));
    const host = this.waiting.size === 0 ? this.idleHost(spec.memoryMb) : null;
    if (host) {
      attempt.assign(host);
      host.run(attempt);
    } else {
      if (this.waiting.size === 0) {
        // A backlog starts: the threads' busy share is measured over it, not over the quiet time before.
        this.backlogSince = this.busySince = performance.now();
        this.busyMs = 0;
      }
      this.waiting.add(attempt);
      this.pump();
    }
    return attempt;
  }

  /**
   * Starts threads (loading `tasksModule`) until `threads` of them (at most threadsPerHost) are live, and resolves
   * when they are ready, or after `withinMs` (default 10 s), whichever comes first. Never rejects: a thread that
   * can not start is reported by the attempt that needs it.
   */
  async prewarm(request: PrewarmRequest): Promise<void> {
    if (this.closed) return;
    const threads = Math.max(0, Math.min(Math.floor(request.threads), this.threadsPerHost));
    if (threads === 0) return;
    this.warmTarget = { threads, memoryMb: request.memoryMb ?? null, tasksModule: request.tasksModule };
    this.warming = true;
    const ready = new Promise<void>((resolve) => this.warmWaiters.push(resolve));
    this.pump();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, request.withinMs ?? 10_000);
    });
    try {
      await Promise.race([ready, bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Pids of the live host processes. */
  hostPids(): number[] {
    return [...this.hosts].filter((h) => h.alive).map((h) => h.pid);
  }

  /** Threads the hosts created so far, as they reported them (tests and benches read it). */
  get threadsCreated(): number {
    let n = this.threadsOfGoneHosts;
    for (const host of this.hosts) n += host.threadsCreated;
    return n;
  }

  /** Attempts whose end came straight from their thread rather than through its host's main thread (tests read it). */
  get directEnds(): number {
    let n = this.directEndsOfGoneHosts;
    for (const host of this.hosts) n += host.directEnds;
    return n;
  }

  /** Attempts sent straight to their thread rather than through its host's main thread (tests read it). */
  get directStarts(): number {
    let n = this.directStartsOfGoneHosts;
    for (const host of this.hosts) n += host.directStarts;
    return n;
  }

  /** Threads alive or starting in live hosts, and attempts waiting for one (tests read it). */
  get pool(): { threads: number; starting: number; waiting: number } {
    let threads = 0;
    let starting = 0;
    for (const host of this.hosts) {
      threads += host.threads;
      starting += host.threadsStarting;
    }
    return { threads, starting, waiting: this.waiting.size };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.longTimer) clearTimeout(this.longTimer);
    this.longTimer = null;
    this.endWarm();
    for (const attempt of [...this.waiting]) attempt.endWaiting();
    this.noteBacklog();
    await Promise.all([...this.hosts].map((host) => host.destroy()));
    this.directIn?.close();
  }

  /** Stops keeping threads warm (close, or a warm thread that could not start). */
  private endWarm(): void {
    this.warmTarget = null;
    this.warmed();
  }

  private warmed(): void {
    this.warming = false;
    for (const resolve of this.warmWaiters.splice(0)) resolve();
  }

  private idleHost(memoryMb: Limit): HostProcess | null {
    for (const host of this.hosts) if (host.usable && host.idleFor(memoryMb) > 0) return host;
    return null;
  }

  /**
   * Gives idle threads to waiting attempts (oldest first, per memory limit), then starts threads for the attempts
   * still waiting. Runs whenever a thread becomes idle or goes away, in the same turn.
   */
  private pump(): void {
    for (const attempt of this.waiting) {
      const host = this.idleHost(attempt.spec.memoryMb);
      if (!host) continue;
      this.waiting.delete(attempt);
      attempt.assign(host);
      host.run(attempt);
    }
    this.noteBacklog();
    if (!this.closed) this.grow();
  }

  /** Keeps `backlogSince` (and the timer that re-checks growth) in step with the queue. */
  private noteBacklog(): void {
    if (this.waiting.size > 0 && !this.closed) return;
    this.backlogSince = null;
    this.growing = false;
    if (this.growTimer) clearTimeout(this.growTimer);
    this.growTimer = null;
  }

  /**
   * Whether threads may be started for waiting attempts while threads of their limit are busy: once the backlog has
   * lasted a look (growAfterMs) and the threads ran attempts for BUSY_SHARE of it; the answer holds until the next
   * look, a look later, or until the queue empties. A backlog that lasts because the machine is saturated (more
   * threads would not run more) never grows the pool.
   */
  private mayGrow(): boolean {
    if (this.backlogOld()) {
      this.growing = this.threadsBusy();
      this.backlogSince = performance.now();
      this.backlogOld(); // arms the next look
    }
    return this.growing;
  }

  /** Whether the backlog has lasted a look; arms a timer for that moment when not yet. */
  private backlogOld(): boolean {
    if (this.backlogSince === null) return false;
    const after = this.growAfterMs;
    const left = this.backlogSince + after - performance.now();
    if (left <= 0) return true;
    if (!this.growTimer) {
      this.growTimer = setTimeout(() => {
        this.growTimer = null;
        this.pump();
      }, Math.ceil(left));
      this.growTimer.unref();
    }
    return false;
  }

  /**
   * Whether the threads ran attempts for at least BUSY_SHARE of the time since the last look (ended attempts by the
   * time they held their thread, running ones since they got it). Starts a new measuring period each time.
   */
  private threadsBusy(): boolean {
    const now = performance.now();
    const span = now - this.busySince;
    // Too short a look says nothing (a no-op attempt that just started fills a 1 ms look).
    if (span < this.growAfterMs) return false;
    let threads = 0;
    let busy = this.busyMs;
    for (const host of this.hosts) {
      if (!host.usable) continue;
      threads += host.threads - host.threadsStarting;
      for (const attempt of host.attempts.values()) busy += now - Math.max(attempt.assignedAt, this.busySince);
    }
    this.busyMs = 0;
    this.busySince = now;
    return threads === 0 || busy >= BUSY_SHARE * span * threads;
  }

  /**
   * Evidence that attempts are long: the history's median at SHORT_MS or more or, before there is a history (a
   * worker's first attempts), a running attempt that has held its thread LONG_MS already — re-checked then, so
   * twenty long attempts are all starting after LONG_MS, not coldStarts at a time. (Not SHORT_MS there: a task's
   * first run on a new thread, or any run on a loaded machine, can take that long.)
   */
  private attemptsLong(): boolean {
    if (this.recentRuns.length >= RECENT_RUNS) return !this.attemptsShort();
    let oldest = Infinity;
    for (const host of this.hosts) {
      if (!host.usable) continue;
      // A parent awaiting its children holds its thread for their whole run: that says nothing about attempts' length.
      for (const attempt of host.attempts.values()) if (!attempt.parked && attempt.assignedAt > 0 && attempt.assignedAt < oldest) oldest = attempt.assignedAt;
    }
    if (oldest === Infinity) return false;
    const left = oldest + LONG_MS - performance.now();
    if (left <= 0) return true;
    if (!this.longTimer) {
      this.longTimer = setTimeout(() => {
        this.longTimer = null;
        if (!this.closed) this.pump();
      }, Math.ceil(left));
      this.longTimer.unref();
    }
    return false;
  }

  /** The median of the last RECENT_RUNS attempts held its thread under SHORT_MS (false without that history). */
  private attemptsShort(): boolean {
    if (this.recentRuns.length < RECENT_RUNS) return false;
    const sorted = [...this.recentRuns].sort((a, b) => a - b);
    return sorted[sorted.length >> 1]! < SHORT_MS;
  }

  /** Attempts running on threads of `memoryMb` that will free them (not parked: a parent awaiting children). */
  private busyFor(memoryMb: Limit): number {
    let n = 0;
    for (const host of this.hosts) {
      if (!host.usable) continue;
      for (const attempt of host.attempts.values()) if (attempt.spec.memoryMb === memoryMb && !attempt.parked) n += 1;
    }
    return n;
  }

  /**
   * Threads alive or starting in usable hosts, less the parked ones: a parent awaiting its children has lent its slot
   * to them (DESIGN G6), so its thread does not count towards the warm size — the children get threads as the slots
   * they run in would have had.
   */
  private workingThreads(): number {
    let n = 0;
    for (const host of this.hosts) {
      if (!host.usable) continue;
      n += host.threads;
      for (const attempt of host.attempts.values()) if (attempt.parked) n -= 1;
    }
    return n;
  }

  /** Starts threads for waiting attempts not already covered by starting ones, at most `coldStarts` at a time. */
  private grow(): void {
    let inFlight = 0;
    const covered = new Map<Limit, number>();
    for (const host of this.hosts) {
      if (!host.usable) continue;
      inFlight += host.threadsStarting;
    }
    // Long attempts will each need a thread: start them all now (as many at once as wait), not coldStarts at a time.
    const long = this.waiting.size > 0 && this.attemptsLong();
    const cap = long ? Infinity : this.coldStarts;
    if (inFlight >= cap) return;
    // Asked once per call: the waiting attempts of one limit get the same answers.
    const busyByLimit = new Map<Limit, number>();
    let may: boolean | undefined;
    const target = this.warmTarget;
    let working = target ? this.workingThreads() : 0;
    for (const attempt of this.waiting) {
      const limit = attempt.spec.memoryMb;
      let have = covered.get(limit);
      if (have === undefined) {
        have = 0;
        for (const host of this.hosts) if (host.usable) have += host.startingFor(limit);
      }
      if (have > 0) {
        // A thread on its way serves it (the oldest waiting get the threads as they come): its clocks start.
        covered.set(limit, have - 1);
        attempt.startClock();
        continue;
      }
      if (inFlight >= cap) return;
      covered.set(limit, 0);
      // Threads of this limit are busy and will be free again: another one only for a lasting backlog of busy threads.
      let busy = busyByLimit.get(limit);
      if (busy === undefined) busyByLimit.set(limit, (busy = this.busyFor(limit)));
      // Below the warm size (threads killed, or parked under parents awaiting children) no look is needed either.
      const below = target !== null && working < target.threads;
      if (busy > 0 && !long && !below && !(may ??= this.mayGrow())) continue;
      this.startThread(limit, attempt.spec.tasksModule);
      attempt.startClock();
      inFlight += 1;
      working += 1;
    }
    if (target && this.waiting.size === 0 && this.warming) {
      if (working >= target.threads && inFlight === 0) return this.warmed();
      for (let n = working; n < target.threads && inFlight < this.coldStarts; n++, inFlight++) this.startThread(target.memoryMb, target.tasksModule);
    }
  }

  /** A thread in a host with room; in a full host, in place of an idle thread of another limit; else a new host. */
  private startThread(memoryMb: Limit, tasksModule: string): void {
    for (const host of this.hosts) {
      if (host.usable && host.threads < this.threadsPerHost) return host.grow(memoryMb, tasksModule);
    }
    for (const host of this.hosts) {
      const other = host.usable ? host.idleOtherThan(memoryMb) : undefined;
      if (other !== undefined) return host.grow(memoryMb, tasksModule, other);
    }
    this.forkHost().grow(memoryMb, tasksModule);
  }

  private forkHost(): HostProcess {
    this.hostsStarted += 1;
    if (this.directIn === undefined) {
      this.directIn = DirectIn.open((hello, socket) => {
        for (const host of this.hosts) if (host.pid === hello.host) return host.attachThread(hello.slot, socket);
        return false;
      });
    }
    const host: HostProcess = new HostProcess(this.threadsPerHost, this.onHostOutput, {
      onIdle: () => this.hostIdle(host),
      onGone: (neverUp, why) => this.hostGone(host, neverUp, why),
      onThreads: (failed) => this.threadsChanged(failed),
      onRan: (ms) => {
        this.busyMs += ms;
        if (this.recentRuns.push(ms) > RECENT_RUNS) this.recentRuns.shift();
      },
    }, this.directIn?.env ?? null);
    this.hosts.add(host);
    return host;
  }

  private threadsChanged(failed: { memoryMb: Limit; end: AttemptEnd } | null): void {
    if (failed) {
      // The thread started for the oldest attempt of that limit could not start: that attempt ends with why.
      const attempt = [...this.waiting].find((a) => a.spec.memoryMb === failed.memoryMb);
      if (attempt) attempt.finish(failed.end);
      // A warm-up that fails would fail again: the first attempt will say why.
      else this.endWarm();
    }
    this.pump();
  }

  private hostGone(host: HostProcess, neverUp: number, why: string): void {
    this.hosts.delete(host);
    this.threadsOfGoneHosts += host.threadsCreated;
    this.directEndsOfGoneHosts += host.directEnds;
    this.directStartsOfGoneHosts += host.directStarts;
    for (const attempt of [...this.waiting].slice(0, neverUp)) attempt.finish({ type: 'died', collateral: false, message: why });
    if (neverUp > 0) this.endWarm();
    this.pump();
  }

  private describeWait(attempt: ThreadAttempt): string {
    let ahead = 0;
    for (const other of this.waiting) {
      if (other === attempt) break;
      ahead += 1;
    }
    const { threads, starting } = this.pool;
    return (
      `the attempt had not started: it was waiting for a free thread (${threads} thread(s) busy or starting, ${starting} ` +
      `of them starting; ${ahead} attempt(s) ahead of it)`
    );
  }

  /** Keeps one host warm; the others go away after hostIdleMs without attempts. */
  private hostIdle(host: HostProcess): ReturnType<typeof setTimeout> | null {
    const warm = [...this.hosts].filter((h) => h.usable);
    if (warm.length <= 1) return null;
    const timer = setTimeout(() => {
      if (host.attempts.size === 0 && host.threadsStarting === 0 && [...this.hosts].filter((h) => h.usable).length > 1) void host.destroy();
    }, this.hostIdleMs);
    timer.unref();
    return timer;
  }
}

function nonNegative(value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new VigilError('VIGIL_USAGE', `ThreadExecutor: option "growAfterMs" must be a number of milliseconds >= 0 (got ${String(value)})`);
  }
  return value;
}
