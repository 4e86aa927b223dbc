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
 * A worker thread running the module at `entry` (a URL beside the caller, without extension): the built `.js`, or
 * under tsx (tests, `npm run demo` from source) the `.ts` with tsx registered in the thread first — module hooks
 * do not reach worker threads in Node 20.
 */
export function moduleThread(entry: URL, options: WorkerOptions): Worker {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  const file = fileURLToPath(new URL(`${entry.href}${fromSource ? '.ts' : '.js'}`));
  if (!fromSource) return new Worker(file, options);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); });`;
  return new Worker(code, { ...options, eval: true });
}
