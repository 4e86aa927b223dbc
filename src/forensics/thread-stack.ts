import { Session } from 'node:inspector';
import type { Worker } from 'node:worker_threads';
import type { HangReport } from '../types.js';
import { captureJsStack, type CdpChannel, TIMEOUT, within } from './cdp-stack.js';
import { osThreadFacts } from './os-threads.js';

/**
 * The stack of a stuck worker thread, taken from the host's main thread through the inspector (NodeWorker domain).
 * Nothing is attached during normal execution: the session exists only for the length of one capture, so tasks
 * run at full speed. Never throws; returns within budgetMs (plus a few ms); always leaves the thread running and
 * the session closed, so a terminate() that follows is not blocked by a paused thread.
 */

/** Kept back from the budget for the OS facts of a thread that does not answer. */
const OS_RESERVE_MS = 60;
/**
 * A thread that runs JS or idles answers the inspector within a few ms (a V8 interrupt, serviced on every loop
 * back-edge); one that has not answered in this long is in a system call or native code, and waiting longer only
 * delays the kill.
 */
const ANSWER_WITHIN_MS = 250;
/** How long the attach notification may trail NodeWorker.enable's answer. */
const ATTACH_WAIT_MS = 250;

export async function captureThreadStack(worker: Worker, budgetMs: number): Promise<HangReport['where']> {
  const started = performance.now();
  const deadline = started + Math.max(0, budgetMs - OS_RESERVE_MS);
  const notes: string[] = [];
  let session: Session | null = null;
  let workerSession: string | null = null;
  try {
    session = new Session();
    session.connect();
    const s = session;
    const post = (method: string, params?: Record<string, unknown>): Promise<unknown> =>
      new Promise((resolve, reject) => s.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));

    const wanted = String(worker.threadId);
    // workerInfo.workerId is the inspector's own counter; the thread id is in the title: "[worker <threadId>] name".
    let onAttached = (): void => {};
    const attached = new Promise<void>((resolve) => (onAttached = resolve));
    s.on('NodeWorker.attachedToWorker', (message: { params: { sessionId: string; workerInfo: { title?: string } } }) => {
      if (/^\[worker (\d+)\]/.exec(message.params.workerInfo.title ?? '')?.[1] !== wanted) return;
      workerSession = message.params.sessionId;
      onAttached();
    });
    const enabled = await within(post('NodeWorker.enable', { waitForDebuggerOnStart: false }), deadline);
    if (enabled === TIMEOUT) throw new Error('the host inspector did not answer NodeWorker.enable');
    // The attach notification can trail the answer to enable (seen in 1 capture in 5 on a loaded machine, and the
    // capture then reported a live thread as gone): wait for it a little.
    if (workerSession === null) await within(attached, Math.min(deadline, performance.now() + ATTACH_WAIT_MS));
    if (workerSession === null) {
      return { notes: [`thread ${wanted} was not found by the inspector (it has exited, or is still starting)`] };
    }
    const channel = workerChannel(s, workerSession, post);
    const js = await captureJsStack(channel, deadline, Math.min(deadline, started + Math.min(ANSWER_WITHIN_MS, budgetMs / 2)));
    if (js.responsive) {
      const where: HangReport['where'] = { stack: js.stack, notes: [...notes, ...js.notes] };
      if (js.asyncStack.length > 0) where.asyncStack = js.asyncStack;
      if (js.pendingResources) where.pendingResources = js.pendingResources;
      return where;
    }
    const waited = Math.round(performance.now() - started);
    notes.push(
      `the JS stack could not be taken: the thread did not reach a safe point within ${waited} ms (blocked in a system call or native code)`,
    );
    const os = osThreadFacts(worker.threadId);
    notes.push(...os.notes);
    return { processes: os.processes, notes };
  } catch (err) {
    notes.push(`thread stack capture failed: ${err instanceof Error ? err.message : String(err)}`);
    return { notes };
  } finally {
    if (session) await close(session, workerSession);
  }
}

/**
 * Detaching disables the thread's debugger agent, which resumes a paused thread and drops a pending pause. Waited
 * for (bounded): a terminate() racing with a detach in flight is where Node 20 has crashed in our tests.
 */
async function close(session: Session, workerSession: string | null): Promise<void> {
  const done = (method: string, params: Record<string, unknown>): Promise<void> =>
    new Promise((resolve) => {
      try {
        session.post(method, params, () => resolve());
      } catch {
        resolve();
      }
    });
  if (workerSession !== null) await within(done('NodeWorker.detach', { sessionId: workerSession }), performance.now() + 50);
  await within(done('NodeWorker.disable', {}), performance.now() + 50);
  try {
    session.disconnect();
  } catch {
    // Already gone.
  }
}

function workerChannel(session: Session, sessionId: string, post: (method: string, params?: Record<string, unknown>) => Promise<unknown>): CdpChannel {
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  const listeners: Array<(method: string, params: unknown) => void> = [];
  session.on('NodeWorker.receivedMessageFromWorker', (message: { params: { sessionId: string; message: string } }) => {
    if (message.params.sessionId !== sessionId) return;
    let parsed: { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message?: string } };
    try {
      parsed = JSON.parse(message.params.message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.id !== undefined) {
      const waiter = pending.get(parsed.id);
      pending.delete(parsed.id);
      if (parsed.error) waiter?.reject(new Error(parsed.error.message ?? 'inspector error'));
      else waiter?.resolve(parsed.result);
    } else if (parsed.method) {
      for (const listener of listeners) listener(parsed.method, parsed.params);
    }
  });
  return {
    send(method, params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        post('NodeWorker.sendMessageToWorker', { sessionId, message: asciiJson({ id, method, params: params ?? {} }) }).catch((err: unknown) => {
          pending.delete(id);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      });
    },
    onEvent(listener) {
      listeners.push(listener);
    },
  };
}

/**
 * Node 20 passes messages to a worker's inspector in a way that mangles non-ASCII characters: a probe holding a
 * "×" came back as "Message must be a valid JSON" and the capture then waited its whole budget for an answer that
 * never came (the compiled build keeps such characters literally, tsx escapes them). JSON escapes are ASCII.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
