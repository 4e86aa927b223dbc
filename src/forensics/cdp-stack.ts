import type { StackFrame } from '../types.js';
import { stackProbeExpression, type PendingResource, type ProbeFrame } from './pending.js';
import { SourceMapper, type ScriptInfo } from './source-maps.js';

/**
 * Takes the JS stack of another thread through the inspector protocol, whatever carries the messages (a worker
 * session through NodeWorker, or a session connected to a process's main thread). Bounded by `deadline`; leaves the
 * thread running and never pauses it.
 *
 * Why it works on every kind of JS hang: inspector messages reach a thread through a V8 interrupt, which a busy loop
 * and Atomics.wait both service. A `Runtime.evaluate` then runs our probe on top of the interrupted stack, and the
 * probe reads that stack through V8's CallSite API; an idle thread (awaiting something that never settles) runs the
 * probe from its event loop with nothing below it, and the probe's list of pending resources says what it waits for.
 * A thread in a system call services nothing: not even `Debugger.enable` is answered. (Debugger.pause is not used:
 * see stackProbeExpression for the Node 20 abort it causes.) Debugger.enable is still sent: its scriptParsed events
 * carry the source maps that turn transpiled positions back into the user's source.
 */

export interface CdpChannel {
  /** Resolves with the result, rejects with the protocol error. */
  send(method: string, params?: Record<string, unknown>): Promise<unknown>;
  onEvent(listener: (method: string, params: unknown) => void): void;
}

export interface JsCapture {
  /** The thread answered the inspector (false: it sits in a system call or native code). */
  responsive: boolean;
  stack: StackFrame[];
  asyncStack: StackFrame[];
  pendingResources?: PendingResource[];
  notes: string[];
}

interface ProbeAnswer {
  stack: ProbeFrame[];
  pending?: PendingResource[];
}

const TIMEOUT = Symbol('timeout');
const MAX_FRAMES = 64;
/** A thread that answered Debugger.enable runs the probe at its next interrupt check: waiting longer only delays the kill. */
const PROBE_WAIT_MS = 600;

/** `answerBy`: when a thread that has not answered Debugger.enable is declared unresponsive (≤ deadline). */
export async function captureJsStack(channel: CdpChannel, deadline: number, answerBy: number = deadline): Promise<JsCapture> {
  const scripts: ScriptInfo[] = [];
  channel.onEvent((method, params) => {
    if (method === 'Debugger.scriptParsed') {
      const p = params as { url?: string; sourceMapURL?: string };
      if (p.url) scripts.push({ url: p.url, sourceMapURL: p.sourceMapURL ?? '' });
    }
  });
  const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);

  const enabled = await within(quiet(channel.send('Debugger.enable', {})), Math.min(answerBy, deadline));
  if (enabled === TIMEOUT) return { responsive: false, stack: [], asyncStack: [], notes: [] };

  const notes: string[] = [];
  const answer = await within(
    channel.send('Runtime.evaluate', { expression: stackProbeExpression(MAX_FRAMES), returnByValue: true, silent: true }).then(
      (r) => ((r as { result?: { value?: unknown } }).result?.value as ProbeAnswer | undefined) ?? null,
      (err: unknown) => err instanceof Error ? err : new Error(String(err)),
    ),
    Math.min(deadline, performance.now() + PROBE_WAIT_MS),
  );
  const capture: JsCapture = { responsive: true, stack: [], asyncStack: [], notes };
  if (answer === TIMEOUT || answer === null || answer instanceof Error) {
    const why = answer === TIMEOUT ? 'did not run the stack probe in time' : answer === null ? 'returned no stack' : `failed the stack probe: ${answer.message}`;
    notes.push(`the thread answered the inspector but ${why}: the JS stack could not be taken`);
  } else {
    const mapper = new SourceMapper(scripts);
    const toFrame = (f: ProbeFrame): StackFrame => mapper.frame(f.functionName, f.url, f.line, f.column);
    capture.stack = answer.stack.filter((f) => !f.async).map(toFrame);
    capture.asyncStack = answer.stack.filter((f) => f.async).map((f) => ({ ...toFrame(f), functionName: `[async] ${f.functionName || '(anonymous)'}` }));
    if (answer.stack.length === 0) {
      notes.push('the thread was idle: no JS was running (it awaits something that never settles); see its pending resources');
      if (answer.pending) capture.pendingResources = answer.pending;
    }
  }
  // Awaited (briefly): a reply still in flight when the thread is terminated right after has crashed Node 20
  // ("double free") in our tests.
  await within(quiet(channel.send('Debugger.disable')), deadline + 50);
  return capture;
}

/** The value, or TIMEOUT once the deadline (performance.now() ms) passes. */
export function within<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMEOUT> {
  const wait = Math.max(0, deadline - performance.now());
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), wait);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export { TIMEOUT };
