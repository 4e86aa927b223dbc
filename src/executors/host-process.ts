import { startedProcesses } from './roots.js';
import { fork, type ChildProcess } from 'node:child_process';
import type { HangReport } from '../types.js';
import { Lifecycle } from './attempt-base.js';
import { hostEvents } from './events.js';
import { Outbox, type HostInbound, type HostOutbound } from './ipc.js';
import { killGroup, settlesWithin } from './kill.js';
import { textLines, LineSplitter } from './line-splitter.js';
import { entryPath, forkExecArgv } from './node-entry.js';
import type { ThreadAttempt } from './thread-attempt.js';

/**
 * The supervisor's handle on one executor host process (thread-host.ts runs inside it): forks it, routes its
 * messages to the attempts it runs, and kills it — for one attempt whose thread can not be terminated (the others
 * die collaterally), or all of it.
 */

/** After SIGKILL, how long to wait for the host's exit event before its attempts are resolved anyway. */
const EXIT_WAIT_MS = 150;
/** A capture the host has not answered this long after its budget is given up (the attempt's own race ended long before). */
const CAPTURE_SLACK_MS = 1_000;

/**
 *   serving → killing  SIGKILL sent: an attempt whose thread could not be terminated, a broken channel, or the
 *                      executor closing (`closing`) or retiring an idle host
 *   killing → gone     its exit was seen, or did not come within the bound
 *   serving → gone     it exited by itself (crash, OOM killer)
 */
type HostState = { name: 'serving' } | { name: 'killing'; closing: boolean } | { name: 'gone' };

const HOST_NEXT = {
  serving: ['killing', 'gone'],
  // A second reason to kill (close during an attempt's kill) only adds `closing`.
  killing: ['killing', 'gone'],
  gone: [],
} as const satisfies { [K in HostState['name']]: ReadonlyArray<HostState['name']> };

export class HostProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly attempts = new Map<string, ThreadAttempt>();
  private readonly life = new Lifecycle<HostState>(HOST_NEXT, { name: 'serving' });
  /** Attempts this host is being killed for: they end `killed`, the others `died` collaterally. */
  private readonly killTargets = new Set<ThreadAttempt>();
  readonly exited: Promise<void>;
  private resolveExited!: () => void;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private nextCaptureId = 1;
  private readonly captures = new Map<number, (where: HangReport['where'] | null) => void>();
  private readonly outbox = new Outbox<HostInbound>((batch) => this.write(batch));

  constructor(
    threadsPerHost: number,
    onOutput: (line: string, hostPid: number) => void,
    private readonly onIdle: () => ReturnType<typeof setTimeout> | null,
    private readonly onGone: () => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    startedProcesses.beforeStart();
    this.child = fork(entryPath('thread-host'), [String(threadsPerHost)], {
      execArgv: forkExecArgv(),
      // Its own process group: programs its tasks start with plain child_process stay in it, so killing the group
      // when the host is gone kills them too, even after they were re-parented (DESIGN G1).
      detached: true,
      serialization: 'json',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.pid = this.child.pid ?? -1;
    hostEvents.publish({ event: 'forked', executor: 'thread', pid: this.pid });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      const lines = new LineSplitter(textLines((line) => onOutput(line, this.pid)));
      stream?.on('data', (chunk: Buffer) => lines.write(chunk));
      stream?.on('end', () => lines.end());
    }
    this.child.on('message', (batch: HostOutbound[]) => {
      for (const message of batch) this.onMessage(message);
    });
    this.child.on('exit', (code, signal) => this.onExit(`exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
    this.child.on('error', (err) => {
      // Fork failed, or the IPC channel broke: the host is useless either way.
      onOutput(`executor host error: ${err.message}`, this.pid);
      if (this.child.pid === undefined) this.onExit(`could not start: ${err.message}`);
      else this.sigkill();
    });
  }

  /** Until its exit was seen (or given up on). */
  get alive(): boolean {
    return !this.life.is('gone');
  }

  /** New attempts go only to a host that is not being killed. */
  get usable(): boolean {
    return this.life.is('serving');
  }

  send(message: HostInbound): void {
    if (this.alive) this.outbox.push(message);
  }

  private write(batch: HostInbound[]): void {
    if (!this.alive || !this.child.connected) return;
    try {
      this.child.send(batch);
    } catch {
      // The channel closed under us: the exit handler resolves the attempts.
    }
  }

  add(attempt: ThreadAttempt): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.attempts.size === 0) this.ref(true);
    this.attempts.set(attempt.spec.key, attempt);
  }

  remove(attempt: ThreadAttempt): void {
    if (this.attempts.get(attempt.spec.key) !== attempt) return;
    this.attempts.delete(attempt.spec.key);
    if (this.attempts.size === 0 && this.alive) {
      // An idle host must not keep the supervisor's process alive.
      this.ref(false);
      this.idleTimer = this.onIdle();
    }
  }

  /**
   * Asks for a thread stack; resolves with the host's answer, or null if the host is gone or has not answered well
   * after the budget (the entry is dropped then: a host that never answers must not grow this map).
   */
  capture(key: string, budgetMs: number): Promise<HangReport['where'] | null> {
    if (!this.alive) return Promise.resolve(null);
    const id = this.nextCaptureId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answerCapture(id, null), budgetMs + CAPTURE_SLACK_MS);
      timer.unref();
      this.captures.set(id, (where) => {
        clearTimeout(timer);
        resolve(where);
      });
      this.send({ type: 'capture', key, id, budgetMs });
    });
  }

  /** Captures waiting for the host's answer (tests read it). */
  get pendingCaptures(): number {
    return this.captures.size;
  }

  /** Kill one attempt: terminate its thread, and if that does not work within the bound, SIGKILL the host. */
  async killAttempt(attempt: ThreadAttempt, boundMs: number): Promise<void> {
    this.send({ type: 'kill', key: attempt.spec.key });
    attempt.killExecGroups();
    if (await settlesWithin(attempt.done, boundMs)) return;
    // The thread could not be terminated (blocked in a syscall or native code): only SIGKILL of its host ends it.
    this.killTargets.add(attempt);
    this.sigkill();
    await settlesWithin(this.exited, EXIT_WAIT_MS);
    if (this.alive) this.onExit('was SIGKILLed and did not report its exit');
  }

  /** Kills the host and everything it runs (close, idle retirement). */
  async destroy(): Promise<void> {
    for (const attempt of this.attempts.values()) this.killTargets.add(attempt);
    if (this.alive) this.sigkill(true);
    await settlesWithin(this.exited, 2_000);
    if (this.alive) this.onExit('was SIGKILLed and did not report its exit');
  }

  private sigkill(closing = false): void {
    const state = this.life.state;
    if (state.name === 'serving') hostEvents.publish({ event: 'killed', executor: 'thread', pid: this.pid });
    this.life.to({ name: 'killing', closing: closing || (state.name === 'killing' && state.closing) });
    try {
      this.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private ref(on: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stdout, this.child.stderr] as Array<{ ref?(): void; unref?(): void } | null | undefined>;
    for (const handle of handles) (on ? handle?.ref : handle?.unref)?.call(handle);
  }

  private onMessage(message: HostOutbound): void {
    if (message.type === 'captured') return this.answerCapture(message.id, message.where);
    this.attempts.get(message.key)?.onMessage(message);
  }

  private answerCapture(id: number, where: HangReport['where'] | null): void {
    const resolve = this.captures.get(id);
    this.captures.delete(id);
    resolve?.(where);
  }

  private onExit(how: string): void {
    const state = this.life.state;
    if (!this.life.to({ name: 'gone' })) return;
    killGroup(this.pid);
    startedProcesses.remove(this.pid);
    const closing = state.name === 'killing' && state.closing;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.onGone();
    const collateral = this.killTargets.size > 0;
    for (const attempt of [...this.attempts.values()]) {
      if (this.killTargets.has(attempt)) {
        attempt.finish({ type: 'killed' });
      } else if (collateral) {
        attempt.finish({
          type: 'died',
          collateral: true,
          message: `the executor host (pid ${this.pid}) was killed to stop another attempt that could not be terminated; this attempt was lost with it`,
        });
      } else {
        attempt.finish({
          type: 'died',
          collateral: false,
          message: `the executor host process (pid ${this.pid}) running this attempt ${how}${closing ? ' (executor closed)' : ''}`,
        });
      }
    }
    for (const resolve of this.captures.values()) resolve(null);
    this.captures.clear();
    this.resolveExited();
  }
}
