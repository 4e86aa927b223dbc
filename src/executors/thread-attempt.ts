import type { HangReport, } from '../types.js';
import { AttemptBase, Lifecycle, type ToRunner } from './attempt-base.js';
import type { HostOutbound } from './ipc.js';
import { killGroup } from './kill.js';
import type { HostProcess } from './host-process.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec } from './types.js';

/**
 * One attempt on a thread of a shared executor host, as the supervisor sees it.
 *   running  → killing (kill(): terminate the thread, SIGKILL the host if that does not work) → ended
 *   running  → ended   (the runner reported its end, or the host died)
 */
type ThreadState = { name: 'running' } | { name: 'killing'; done: Promise<void> } | { name: 'ended' };

const THREAD_NEXT = {
  running: ['killing', 'ended'],
  killing: ['ended'],
  ended: [],
} as const satisfies { [K in ThreadState['name']]: ReadonlyArray<ThreadState['name']> };

export class ThreadAttempt extends AttemptBase {
  private readonly life = new Lifecycle<ThreadState>(THREAD_NEXT, { name: 'running' });

  constructor(
    spec: AttemptSpec,
    channel: AttemptChannel,
    private readonly host: HostProcess,
    private readonly killBoundMs: number,
  ) {
    super(spec, channel);
  }

  protected get over(): boolean {
    return this.life.is('ended');
  }

  protected post(message: ToRunner): void {
    this.host.send(message);
  }

  kill(): Promise<void> {
    const state = this.life.state;
    if (state.name === 'killing') return state.done;
    if (state.name === 'ended') return Promise.resolve();
    const done = this.host.killAttempt(this, this.killBoundMs);
    this.life.to({ name: 'killing', done });
    return done;
  }

  captureHang(budgetMs: number): Promise<HangReport['where']> {
    if (this.over) return Promise.resolve({ notes: ['the attempt had already ended when its hang was captured'] });
    return this.captureWithin(budgetMs, async () => (await this.host.capture(this.spec.key, budgetMs)) ?? { notes: ['the executor host went away during the capture'] });
  }

  pids(): number[] {
    return [...this.execPids];
  }

  onMessage(message: Exclude<HostOutbound, { type: 'captured' }>): void {
    if (message.type === 'end') this.finish(message.end);
    else this.relayed(message);
  }

  killExecGroups(): void {
    for (const pid of this.execPids) killGroup(pid);
  }

  finish(end: AttemptEnd): void {
    const killing = this.life.state.name === 'killing';
    if (!this.life.to({ name: 'ended' })) return;
    // Programs started by ctx.exec die with the attempt, however it ended.
    this.killExecGroups();
    this.host.remove(this);
    // kill() SIGKILLs the attempt's programs before it terminates the thread: an error the code throws in that
    // window (its ctx.exec saw "killed by SIGKILL") is the kill's doing, not the task's.
    this.resolve(killing && end.type === 'threw' ? { type: 'killed' } : end);
  }
}
