import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits, type WorkerOptions } from 'node:worker_threads';

/**
 * Limits for the supervisor's own background threads (the SQLite checkpointer, the retention sweeper, the watchdog),
 * which allocate little and keep less. V8 gives every thread young-generation semi-spaces sized for a busy heap; a
 * 1 MiB young generation cut each idle thread's RSS by ~1.5 MiB (11.5 → 10.0 MiB per thread, 4 threads measured),
 * and the supervisor's RSS is a target (issue 15: < 150 MiB draining 100,000 jobs). The old generation is left to
 * V8 where a thread may need room in a bad moment (the watchdog capturing a frozen supervisor's stacks).
 */
export const BACKGROUND_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 1 };

/** For a thread whose whole job is a few statements on a timer: a small old generation too (~0.8 MiB more saved). */
export const SMALL_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 };

/**
 * A module-customization hook module without hooks (only `initialize`), registered after tsx in a thread so it runs in
 * the same loader thread as tsx: asked to, it stops that loader's esbuild service (the same esbuild module tsx loaded
 * there) and waits until the process is reaped (gone from the loader thread's children list). From source, tsx
 * compiles a thread's modules in the thread's own loader thread, whose esbuild service is a child process that
 * thread started: when the thread ends, nobody stops or reaps it.
 */
export const LOADER_REAPER = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const children = () => { try { return readFileSync('/proc/thread-self/children', 'latin1').trim(); } catch { return ''; } };
export function initialize({ port, tsxApi }) {
  port.on('message', async () => {
    try {
      await createRequire(tsxApi)('esbuild').stop();
      const end = Date.now() + 900;
      while (children() !== '' && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    } catch {}
    port.postMessage('stopped');
  });
  port.unref();
}
`;

/** Source of a function (tsxApi) => Promise<void> that registers LOADER_REAPER and waits for it, at most 1 s. */
export const STOP_LOADER = `async (tsxApi) => {
  const { register } = await import('node:module');
  const { MessageChannel } = await import('node:worker_threads');
  const { port1, port2 } = new MessageChannel();
  register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(LOADER_REAPER)}), { data: { port: port2, tsxApi }, transferList: [port2] });
  await new Promise((resolve) => { port1.once('message', resolve); setTimeout(resolve, 1000).unref(); port1.postMessage('stop'); });
  port1.close();
}`;

const STOP_KEY = 'vigil.stopThreadLoader';

/**
 * A worker thread running the module at `entry` (a URL beside the caller, without extension): the built `.js`, or
 * under tsx (tests, `npm run demo` from source) the `.ts` with tsx registered in the thread first — module hooks
 * do not reach worker threads in Node 20. Such a thread calls stopThreadLoader() before it ends.
 */
export function moduleThread(entry: URL, options: WorkerOptions): Worker {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  const file = fileURLToPath(new URL(`${entry.href}${fromSource ? '.ts' : '.js'}`));
  if (!fromSource) return new Worker(file, options);
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `const stop = ${STOP_LOADER};
globalThis[Symbol.for(${JSON.stringify(STOP_KEY)})] = () => stop(${api});
import(${api}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

/** In a thread moduleThread started from source: stops tsx's esbuild service, so the thread leaves no process behind. */
export async function stopThreadLoader(): Promise<void> {
  const stop = (globalThis as Record<symbol, unknown>)[Symbol.for(STOP_KEY)];
  if (typeof stop === 'function') await (stop as () => Promise<void>)();
}

/**
 * Stops a thread that may be inside better-sqlite3 without terminate(). A termination pending when the driver
 * returns from SQLite makes it fail a V8 check while it builds its error or result, which aborts the whole process
 * (WiseLibs/better-sqlite3#842; SIGABRT in this repository's writer-thread test when the thread was terminated
 * while it waited out another process's lock). So the thread is asked: `stop` set (it gives up waiting for a lock
 * at its next try) and `message` sent. Resolves true once it exited; false if it had not within `withinMs`, when it
 * is left to end by itself, unref'd so the process does not wait for it.
 */
export async function askToStop(worker: Worker, stop: Int32Array | null, message: unknown, withinMs: number): Promise<boolean> {
  if (stop) Atomics.store(stop, 0, 1);
  // Node sets threadId to -1 once the thread is gone (it may be, before its 'exit' event was emitted).
  if (worker.threadId === -1) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = new Promise<boolean>((resolve) => {
    worker.once('exit', () => resolve(true));
    timer = setTimeout(() => resolve(false), withinMs);
  });
  // Waited for: a closing store's last connection out checkpoints the WAL back into the file.
  worker.ref();
  worker.postMessage(message);
  const ended = await exited;
  clearTimeout(timer);
  if (!ended) worker.unref();
  return ended;
}

/** A flag shared with a thread, set by askToStop(). */
export function stopFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** In the thread: whether it was asked to stop. */
export function stopAsked(stop: Int32Array): boolean {
  return Atomics.load(stop, 0) === 1;
}
