import type { StackFrame } from '../types.js';
import { pendingResourcesExpression, type PendingResource } from './pending.js';
import { SourceMapper, type ScriptInfo } from './source-maps.js';

/**
 * Takes the JS stack of another thread through the inspector protocol, whatever carries the messages (a worker
 * session through NodeWorker, or a session connected to a process's main thread). Bounded by `deadline`; leaves the
 * thread running.
 *
 * Why it works on every kind of JS hang: inspector messages reach a thread through a V8 interrupt, which a busy loop
 * and Atomics.wait both service. `Debugger.pause` then stops the thread where it is. An idle thread (awaiting
 * something that never settles) runs no JS for the pause to stop, so we also evaluate the pending-resources probe:
 * the pending pause then stops inside that probe, which tells us the thread was idle, and the probe's answer says
 * what the thread waits for. A thread in a system call services nothing: not even `Debugger.enable` is answered.
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

interface CallFrameLike {
  functionName: string;
  url?: string;
  location?: { scriptId: string; lineNumber: number; columnNumber?: number };
  scriptId?: string;
  lineNumber?: number;
  columnNumber?: number;
}

interface PausedParams {
  callFrames: CallFrameLike[];
  asyncStackTrace?: AsyncTrace;
}

interface AsyncTrace {
  description?: string;
  callFrames: CallFrameLike[];
  parent?: AsyncTrace;
}

const TIMEOUT = Symbol('timeout');
const MAX_FRAMES = 64;
const PAUSE_RETRY_MS = 100;
const PAUSE_WAIT_MS = 600;

/** `answerBy`: when a thread that has not answered Debugger.enable is declared unresponsive (≤ deadline). */
export async function captureJsStack(channel: CdpChannel, deadline: number, answerBy: number = deadline): Promise<JsCapture> {
  const scripts = new Map<string, ScriptInfo>();
  let onPaused: ((params: PausedParams) => void) | null = null;
  const paused = new Promise<PausedParams>((resolve) => (onPaused = resolve));
  channel.onEvent((method, params) => {
    if (method === 'Debugger.scriptParsed') {
      const p = params as { scriptId: string; url?: string; sourceMapURL?: string };
      scripts.set(p.scriptId, { url: p.url ?? '', sourceMapURL: p.sourceMapURL ?? '' });
    } else if (method === 'Debugger.paused') {
      onPaused?.(params as PausedParams);
    }
  });
  const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);

  const enabled = await within(quiet(channel.send('Debugger.enable', {})), Math.min(answerBy, deadline));
  if (enabled === TIMEOUT) return { responsive: false, stack: [], asyncStack: [], notes: [] };

  const notes: string[] = [];
  void quiet(channel.send('Debugger.setAsyncCallStackDepth', { maxDepth: 32 }));
  void quiet(channel.send('Debugger.pause'));
  const probe = channel
    .send('Runtime.evaluate', { expression: pendingResourcesExpression(), returnByValue: true, silent: true })
    .then(
      (r) => ((r as { result?: { value?: unknown } }).result?.value as PendingResource[] | undefined) ?? [],
      (err: unknown) => [{ type: 'error', description: `pending resources could not be listed: ${err instanceof Error ? err.message : String(err)}` }],
    );

  // A pause requested while the thread is between two states can be lost (measured: ~1 capture in 50 on a busy
  // loop, the probe answered and no pause followed), so it is asked again until it arrives or the budget ends.
  // A thread that answered Debugger.enable but has not paused within PAUSE_WAIT_MS will not: waiting longer only
  // delays the kill (the capture budget is an upper bound, not a target).
  const pauseBy = Math.min(deadline, performance.now() + PAUSE_WAIT_MS);
  let stop: PausedParams | typeof TIMEOUT = await within(paused, Math.min(pauseBy, performance.now() + PAUSE_RETRY_MS));
  while (stop === TIMEOUT && performance.now() < pauseBy) {
    void quiet(channel.send('Debugger.pause'));
    stop = await within(paused, Math.min(pauseBy, performance.now() + PAUSE_RETRY_MS));
  }
  let stack: StackFrame[] = [];
  let asyncStack: StackFrame[] = [];
  let idle = false;
  if (stop === TIMEOUT) {
    notes.push('the thread answered the inspector but did not pause in time: the JS stack could not be taken');
  } else {
    const mapper = new SourceMapper(scripts);
    // Frames of our own probe (an evaluated script, no URL) are not the task's code.
    // (CDP leaves CallFrame.url empty in Node 20: the script's URL comes from scriptParsed.)
    const urlOf = (f: CallFrameLike): string => f.url || scripts.get(f.location?.scriptId ?? f.scriptId ?? '')?.url || '';
    const own = stop.callFrames.filter((f) => urlOf(f) !== '');
    idle = own.length === 0;
    stack = own.slice(0, MAX_FRAMES).map((f) => toFrame(mapper, f));
    for (let trace = stop.asyncStackTrace; trace && asyncStack.length < MAX_FRAMES; trace = trace.parent) {
      for (const f of trace.callFrames) {
        if (urlOf(f) === '') continue;
        asyncStack.push({ ...toFrame(mapper, f), functionName: `${trace.description ? `[${trace.description}] ` : ''}${f.functionName || '(anonymous)'}` });
      }
    }
    asyncStack = asyncStack.slice(0, MAX_FRAMES);
    await within(quiet(channel.send('Debugger.resume')), deadline + 50);
    if (idle) notes.push('the thread was idle: no JS was running (it awaits something that never settles); see its pending resources');
  }
  // A thread caught running JS will not run the probe once resumed (it goes back to its loop): do not spend the
  // capture budget (and delay the kill) waiting for it.
  const busy = stop !== TIMEOUT && !idle;
  const resources = await within(probe, Math.min(deadline, performance.now() + (busy ? 50 : 200)));
  // Awaited (briefly): a reply still in flight when the thread is terminated right after has crashed Node 20
  // ("double free") in our tests.
  await within(quiet(channel.send('Debugger.disable')), deadline + 50);
  const capture: JsCapture = { responsive: true, stack, asyncStack, notes };
  if (resources !== TIMEOUT) capture.pendingResources = resources;
  else if (!busy) notes.push('pending resources were not listed in time');
  return capture;
}

function toFrame(mapper: SourceMapper, f: CallFrameLike): StackFrame {
  const scriptId = f.location?.scriptId ?? f.scriptId ?? '';
  const line = f.location?.lineNumber ?? f.lineNumber ?? 0;
  const column = f.location?.columnNumber ?? f.columnNumber ?? 0;
  return mapper.frame(f.functionName, scriptId, f.url ?? '', line, column);
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
