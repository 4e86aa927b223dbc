import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { parentPort, workerData } from 'node:worker_threads';
import { captureJsStack, type CdpChannel } from '../forensics/cdp-stack.js';
import type { NewFreeze, Store } from '../store/contract.js';
import type { StackFrame } from '../types.js';
import type { WatchdogThreadData, WatchdogMessage } from './watchdog.js';

/**
 * What the watchdog thread does once it found the supervisor frozen (the watching itself is the small bootstrap in
 * watchdog.ts, so a worker that never freezes never loads this). It runs on the watchdog's own thread and event
 * loop: it talks to the main thread through the inspector (V8 interrupts reach a busy loop), writes with writeSync
 * (process.stderr of a thread is relayed by the main thread, the one frozen), and stores through its own store
 * connection.
 */

const data = workerData as WatchdogThreadData;
const CAPTURE_BUDGET_MS = 1_500;
const STORE_BUDGET_MS = 3_000;

const say = (text: string): void => {
  try {
    writeSync(2, text);
  } catch {
    // stderr closed: nothing else to tell.
  }
};

let store: Promise<Store | null> | null = null;

function openOwnStore(): Promise<Store | null> {
  if (!data.storeUrl) return Promise.resolve(null);
  store ??= import('../store/open.js')
    .then((m) => m.openStore(data.storeUrl!))
    .then((s) => {
      const opened: WatchdogMessage = { type: 'storeOpened' };
      parentPort?.postMessage(opened);
      return s;
    })
    .catch((err: unknown) => {
      say(`[vigil watchdog] cannot open the store to record the freeze: ${err instanceof Error ? err.message : String(err)}\n`);
      return null;
    });
  return store;
}

async function bounded<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function captureMainStack(): Promise<{ stack: StackFrame[]; notes: string[] }> {
  const session = new Session();
  try {
    session.connectToMainThread();
  } catch (err) {
    return { stack: [], notes: [`the inspector could not attach to the main thread: ${err instanceof Error ? err.message : String(err)}`] };
  }
  const channel: CdpChannel = {
    send: (method, params) =>
      new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result)))),
    onEvent: (listener) => session.on('inspectorNotification', (m: { method: string; params?: unknown }) => listener(m.method, m.params)),
  };
  try {
    const capture = await captureJsStack(channel, performance.now() + CAPTURE_BUDGET_MS);
    const notes = [...capture.notes];
    if (!capture.responsive) notes.push('the supervisor did not answer the inspector: it is blocked outside JavaScript (a native call or system call)');
    return { stack: capture.stack, notes };
  } catch (err) {
    return { stack: [], notes: [`stack capture failed: ${err instanceof Error ? err.message : String(err)}`] };
  } finally {
    session.disconnect();
  }
}

/** Takes the supervisor's stack, logs it, tells the main thread, stores it and alerts the webhook. */
export async function record(action: NewFreeze['action'], blockedMs: number): Promise<void> {
  const { stack, notes } = await captureMainStack();
  const freeze: NewFreeze = { workerId: data.workerId, hostname: data.hostname, pid: data.pid, detectedAt: Date.now(), blockedMs, stack, notes, action };
  const top = stack.slice(0, 8).map((f) => `    at ${f.functionName || '(anonymous)'} (${f.file}:${f.line}:${f.column})`);
  say(
    `[vigil watchdog] supervisor stack after ${blockedMs} ms frozen (pid ${data.pid}):\n${top.length ? top.join('\n') : '    (no JS stack)'}\n` +
      notes.map((n) => `    note: ${n}\n`).join(''),
  );
  const message: WatchdogMessage = { type: 'freeze', freeze };
  parentPort?.postMessage(message);
  const s = await openOwnStore();
  if (s) {
    const stored = await bounded(
      s.recordFreeze(freeze).then(
        () => true,
        (err: unknown) => (say(`[vigil watchdog] could not store the freeze: ${err instanceof Error ? err.message : String(err)}\n`), false),
      ),
      STORE_BUDGET_MS,
    );
    if (stored === undefined) say('[vigil watchdog] storing the freeze took too long; going on without it\n');
  }
  if (data.webhookUrl) await bounded(postAlert(data.webhookUrl, freeze), STORE_BUDGET_MS);
}

/** From this thread, since the main loop that normally sends alerts is the one frozen. One try, bounded. */
async function postAlert(url: string, freeze: NewFreeze): Promise<void> {
  const top = freeze.stack[0];
  const body = {
    type: 'supervisor_frozen',
    at: new Date(freeze.detectedAt).toISOString(),
    workerId: freeze.workerId,
    message: `the supervisor of worker ${freeze.workerId} has been frozen ${freeze.blockedMs} ms${top ? ` in ${top.functionName || '(anonymous)'} (${top.file}:${top.line})` : ''}`,
    freeze,
  };
  try {
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(STORE_BUDGET_MS) });
  } catch {
    // The alert is best effort here; the record in the store is what doctor shows.
  }
}

/** Closes this thread's store connection, if a freeze opened one. */
export async function close(): Promise<void> {
  const s = store ? await store : null;
  await bounded(s?.close() ?? Promise.resolve(), 1_000);
}
