import type { StackFrame } from '../types.js';
import { stackProbeExpression, type PendingResource, type ProbeFrame } from './pending.js';
import { SourceMapper, displayPath, type ScriptInfo } from './source-maps.js';

/**
 * Takes the JS stack of another thread through the inspector protocol, whatever carries the messages (a worker
 * session through NodeWorker, or a session connected to a process's main thread). Bounded by `deadline`; leaves the
 * thread running and never pauses it.
 *
 * Why it works on every kind of JS hang: inspector messages reach a thread through a V8 interrupt, which a busy loop
 * and Atomics.wait both service. A `Runtime.evaluate` then runs our probe on top of the interrupted stack, and the
 * probe reads that stack through V8's CallSite API; an idle thread (awaiting something that never settles) runs the
 * probe from its event loop with nothing below it, and the probe's list of pending resources says what it waits for.
 * A thread in a system call services nothing: the probe is not run. (Debugger.pause is not used: see
 * stackProbeExpression for the Node 20 abort it causes.) The debugger is enabled only as a last resort: the probe
 * maps its frames back to the user's source in the thread (findSourceMap, when Node keeps source maps there, as under
 * tsx), and the host maps the rest from the files' sourceMappingURL comments (tsc's dist).
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
/** A thread that answered the ping runs the probe at the same interrupt: waiting longer only delays the kill. */
const PROBE_WAIT_MS = 600;
/** How long Debugger.disable's answer is waited for after the fallback (the session is closed next). */
const SETTLE_MS = 50;

/** `answerBy`: when a thread that has not answered the inspector is declared unresponsive (≤ deadline). */
export async function captureJsStack(channel: CdpChannel, deadline: number, answerBy: number = deadline): Promise<JsCapture> {
  // No Debugger.enable up front: it replays a scriptParsed for every script the thread ever parsed before it answers
  // (~120 ms of a ~150 ms capture from source, 262 scripts), and the kill waits for the capture. The probe maps its
  // frames in the thread when Node keeps source maps there (tsx, --enable-source-maps); the host maps the others from
  // the files' sourceMappingURL comments, and enables the debugger only for a transpiled frame neither could map.
  //
  // The ping goes first and is answered at the same interrupt that then runs the probe, before the probe runs: it
  // tells a thread that is servicing the inspector (the probe just has not finished: a loaded machine, a first run
  // that compiles the probe and parses source maps) from one in a system call, which answers neither. Only the
  // latter may be declared unresponsive at `answerBy`.
  const ping = channel.send('Runtime.getIsolateId').then(
    () => true,
    () => true,
  );
  const probe = channel.send('Runtime.evaluate', { expression: stackProbeExpression(MAX_FRAMES), returnByValue: true, silent: true }).then(
    (r) => ((r as { result?: { value?: unknown } }).result?.value as ProbeAnswer | undefined) ?? null,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  const answered = await within(ping, Math.min(answerBy, deadline));
  // Not answered: the thread is in a system call or native code. Not waited for any longer (the kill waits for the
  // capture); the ping and probe stay queued in it, as Debugger.enable did before.
  if (answered === TIMEOUT) return { responsive: false, stack: [], asyncStack: [], notes: [] };
  const answer = await within(probe, Math.min(deadline, performance.now() + PROBE_WAIT_MS));
  const notes: string[] = [];
  const capture: JsCapture = { responsive: true, stack: [], asyncStack: [], notes };
  if (answer === TIMEOUT || answer === null || answer instanceof Error) {
    const why = answer === TIMEOUT ? 'did not run the stack probe in time' : answer === null ? 'returned no stack' : `failed the stack probe: ${answer.message}`;
    notes.push(`the thread answered the inspector but ${why}: the JS stack could not be taken`);
    return capture;
  }
  let mapper = new SourceMapper([]);
  const unmapped = answer.stack.filter((f) => !f.original && !mapper.canMap(f.url) && transpiled(f.url));
  if (unmapped.length > 0) {
    // Transpiled in memory by a loader the thread cannot ask (findSourceMap needs process.getBuiltinModule, Node
    // 20.16+, and source maps kept): only the debugger's scriptParsed carries their maps. Slow (~120 ms), rare.
    const scripts = await scriptsFromDebugger(channel, deadline);
    if (scripts) mapper = new SourceMapper(scripts);
    else notes.push(`the source maps of ${[...new Set(unmapped.map((f) => displayPath(f.url)))].join(', ')} could not be read in time: their positions are in the transpiled code`);
  }
  const toFrame = (f: ProbeFrame): StackFrame =>
    f.original
      ? { functionName: f.functionName || '(anonymous)', file: displayPath(f.original.source), line: f.original.line, column: f.original.column }
      : mapper.frame(f.functionName, f.url, f.line, f.column);
  capture.stack = answer.stack.filter((f) => !f.async).map(toFrame);
  capture.asyncStack = answer.stack.filter((f) => f.async).map((f) => ({ ...toFrame(f), functionName: `[async] ${f.functionName || '(anonymous)'}` }));
  if (answer.stack.length === 0) {
    notes.push('the thread was idle: no JS was running (it awaits something that never settles); see its pending resources');
    if (answer.pending) capture.pendingResources = answer.pending;
  }
  return capture;
}

/** A script V8 can not have run as written (TypeScript, JSX): a loader transpiled it, and its positions need a map. */
function transpiled(url: string): boolean {
  return /\.(?:[cm]?tsx?|jsx)$/i.test(url.replace(/[?#].*$/, ''));
}

/** The scripts' source maps as Debugger.enable's scriptParsed replay lists them; null when not in time. */
async function scriptsFromDebugger(channel: CdpChannel, deadline: number): Promise<ScriptInfo[] | null> {
  const scripts: ScriptInfo[] = [];
  channel.onEvent((method, params) => {
    if (method !== 'Debugger.scriptParsed') return;
    const p = params as { url?: string; sourceMapURL?: string };
    if (p.url) scripts.push({ url: p.url, sourceMapURL: p.sourceMapURL ?? '' });
  });
  const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
  const enabled = await within(quiet(channel.send('Debugger.enable', {})), deadline);
  // Awaited (briefly) either way: a reply still in flight when the thread is terminated right after has crashed
  // Node 20 ("double free") in our tests.
  await within(quiet(channel.send('Debugger.disable')), Math.max(deadline, performance.now()) + SETTLE_MS);
  return enabled === TIMEOUT ? null : scripts;
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
