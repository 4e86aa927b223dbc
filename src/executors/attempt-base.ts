import { serializeError } from '../task/serialize.js';
import type { HangReport, SerializedError } from '../types.js';
import type { ReplyMessage, RunnerInbound } from './ipc.js';
import { settlesWithin } from './kill.js';
import { relay, type RelayedMessage } from './relay.js';
import type { AttemptChannel, AttemptEnd, AttemptSpec, RunningAttempt } from './types.js';

/**
 * What a thread attempt and a process attempt share on the supervisor's side: the `done` promise, the abort that
 * waits for a running capture, the capture race against its budget, relaying the runner's messages to the engine
 * and answering its requests. Subclasses say how a message reaches their runner and when the attempt is over.
 */

/**
 * While a hang capture runs, an abort waits (at most this long): the abort would move the code away from where it
 * hung. A thread that can react to an abort answers the capture within tens of ms; one that has not answered in this
 * long sits in a system call and can not react to an abort anyway.
 */
export const ABORT_HOLD_MS = 300;

/** Messages the supervisor sends to a running attempt's code. */
export type ToRunner = Extract<RunnerInbound, { type: 'abort' }> | ReplyMessage;

/**
 * An explicit state machine: the states are the union `S`, and every legal transition is listed in one table, so
 * a reader sees every state an attempt can be in and how it gets there.
 */
export class Lifecycle<S extends { name: string }> {
  private current: S;

  constructor(
    private readonly table: { readonly [K in S['name']]: ReadonlyArray<S['name']> },
    initial: S,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  is(...names: Array<S['name']>): boolean {
    return names.includes(this.current.name);
  }

  /** Moves to `next` when the table allows it; false (and nothing changes) when it does not. */
  to(next: S): boolean {
    const allowed: ReadonlyArray<S['name']> = this.table[this.current.name as S['name']];
    if (!allowed.includes(next.name)) return false;
    this.current = next;
    return true;
  }
}

export abstract class AttemptBase implements RunningAttempt {
  readonly done: Promise<AttemptEnd>;
  private resolveDone!: (end: AttemptEnd) => void;
  /** Programs started through ctx.exec: their process groups die with the attempt. */
  protected readonly execPids = new Set<number>();
  private capturing: Promise<unknown> | null = null;

  constructor(
    readonly spec: AttemptSpec,
    protected readonly channel: AttemptChannel,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** True once nothing the runner says matters any more (`done` resolved). */
  protected abstract get over(): boolean;
  /** Delivers a message to the running code (dropped when it can no longer arrive). */
  protected abstract post(message: ToRunner): void;
  abstract kill(): Promise<void>;
  abstract captureHang(budgetMs: number): Promise<HangReport['where']>;
  abstract pids(): number[];

  abort(reason: string): void {
    if (this.over) return;
    const send = (): void => {
      if (!this.over) this.post({ type: 'abort', key: this.spec.key, reason });
    };
    // The engine aborts while the capture runs: an abort handler running in the code would be the stack we catch.
    if (this.capturing) void settlesWithin(this.capturing, ABORT_HOLD_MS).then(send);
    else send();
  }

  /** Runs `capture` against its budget; never throws. An abort waits for it (see ABORT_HOLD_MS). */
  protected async captureWithin(budgetMs: number, capture: () => Promise<HangReport['where']>): Promise<HangReport['where']> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<HangReport['where']>((resolve) => {
      timer = setTimeout(() => resolve({ notes: [`capture did not answer within ${budgetMs} ms`] }), budgetMs);
    });
    const answer = Promise.resolve()
      .then(capture)
      .catch((err: unknown) => ({ notes: [`capture failed: ${err instanceof Error ? err.message : String(err)}`] }));
    this.capturing = answer;
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
      this.capturing = null;
    }
  }

  /** Passes a runner message to the engine. A failing channel is an engine bug: it must not take the supervisor down. */
  protected relayed(message: RelayedMessage): void {
    if (this.over) return;
    try {
      relay(message, this.channel, this.execPids, (id, call) => this.answer(id, call));
    } catch (err) {
      process.emitWarning(`vigil: attempt channel failed on "${message.type}" for ${this.spec.key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Resolves `done`; callers guard it with their state machine so it happens once. */
  protected resolve(end: AttemptEnd): void {
    this.resolveDone(end);
  }

  private answer(id: number, call: () => Promise<unknown>): void {
    const key = this.spec.key;
    Promise.resolve()
      .then(call)
      .then(
        (value) => {
          if (!this.over) this.post({ type: 'reply', key, id, ok: true, value });
        },
        (err: unknown) => {
          if (!this.over) this.post({ type: 'reply', key, id, ok: false, error: toSerialized(err) });
        },
      );
  }
}

/** An engine-side rejection as the runner receives it: already serialized errors pass through unchanged. */
export function toSerialized(err: unknown): SerializedError {
  if (err && typeof err === 'object' && !(err instanceof Error) && typeof (err as SerializedError).message === 'string' && typeof (err as SerializedError).kind === 'string') {
    return err as SerializedError;
  }
  return serializeError(err);
}
