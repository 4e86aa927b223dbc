import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError, VigilError } from '../errors.js';
import { isTaskDefinition, type TaskDefinition } from './define.js';

export type TaskMap = Map<string, TaskDefinition>;

let tsxRegistered = false;

/** Task modules may be TypeScript: load them through tsx, in whatever thread or process asks. */
async function ensureTypeScriptLoader(path: string): Promise<void> {
  if (tsxRegistered || !/\.(c|m)?tsx?$/.test(path)) return;
  const { register } = await import('tsx/esm/api');
  register();
  tsxRegistered = true;
}

/** Imports a module by path, through tsx when it is TypeScript (the demo reads the example's own helpers this way). */
export async function importModule<T>(path: string): Promise<T> {
  await ensureTypeScriptLoader(path);
  return (await import(pathToFileURL(path).href)) as T;
}

/**
 * A `.ts` tasks module in a package without `"type": "module"` is CommonJS to tsx. Imported through tsx's ESM hooks
 * alone, Node 20.19+ then fails with ERR_REQUIRE_CYCLE_MODULE (tsx requires the file it is importing); tsx's
 * tsImport compiles it as CommonJS, and its `require('vigil')` reaches our ESM entry through require(esm) (the
 * package's `default` export condition). Tried second, so ESM projects load exactly as before.
 */
async function importTasksModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (!/\.(c)?tsx?$/.test(path) || (code !== 'ERR_REQUIRE_CYCLE_MODULE' && code !== 'ERR_REQUIRE_ESM')) throw err;
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}

const cache = new Map<string, Promise<TaskMap>>();

/**
 * Imports a tasks module and collects every task definition it exports (named exports, the default export, or
 * arrays/objects of definitions in either). Cached per path for the life of the thread.
 */
export function loadTasks(modulePath: string): Promise<TaskMap> {
  const path = isAbsolute(modulePath) ? modulePath : resolve(modulePath);
  let pending = cache.get(path);
  if (!pending) {
    pending = importTasks(path);
    cache.set(path, pending);
    pending.catch(() => cache.delete(path));
  }
  return pending;
}

async function importTasks(path: string): Promise<TaskMap> {
  if (!existsSync(path)) {
    throw new UsageError('VIGIL_TASKS_MODULE_LOAD', `tasks module not found: ${path} (give the path of a .ts or .js module: --tasks <path> or Vigil.open({ tasks }))`);
  }
  await ensureTypeScriptLoader(path);
  let mod: Record<string, unknown>;
  try {
    mod = await importTasksModule(path);
  } catch (err) {
    const where = throwSite(err, path);
    throw new UsageError(
      'VIGIL_TASKS_MODULE_LOAD',
      `tasks module ${path} failed to load: ${err instanceof Error ? err.message : String(err)}${where ? ` (thrown at ${where})` : ''}; fix the module and try again`,
      { cause: err },
    );
  }
  const tasks: TaskMap = new Map();
  const add = (value: unknown): void => {
    if (isTaskDefinition(value)) {
      const existing = tasks.get(value.options.name);
      if (existing && existing !== value) {
        throw new VigilError('VIGIL_DUPLICATE_TASK', `tasks module ${path} defines task "${value.options.name}" twice; task names must be unique`);
      }
      tasks.set(value.options.name, value);
    } else if (Array.isArray(value)) {
      value.forEach(add);
    } else if (value && typeof value === 'object' && value.constructor === Object) {
      Object.values(value).forEach((v) => (isTaskDefinition(v) ? add(v) : undefined));
    }
  };
  Object.values(mod).forEach(add);
  if (tasks.size === 0) {
    throw new UsageError('VIGIL_TASKS_MODULE_LOAD', `tasks module ${path} exports no task: export the values returned by defineTask(...)`);
  }
  return tasks;
}

export function requireTask(tasks: TaskMap, name: string, modulePath?: string): TaskDefinition {
  const task = tasks.get(name);
  if (!task) {
    const known = [...tasks.keys()].sort().join(', ');
    throw new UsageError('VIGIL_UNKNOWN_TASK', `unknown task "${name}"${modulePath ? ` in ${modulePath}` : ''} (known tasks: ${known || 'none'})`);
  }
  return task;
}

/**
 * Where an import failed, as "file:line:column": the first stack frame in the tasks module itself, else the first
 * frame outside node's internals and node_modules (a helper the module imports), else null. tsx maps TypeScript
 * lines through source maps, so the line is the one the user wrote.
 */
export function throwSite(err: unknown, modulePath: string): string | null {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return null;
  // Loaders' syntax errors already say "file:line:col: ERROR …" in the message.
  if (/\/[^\s:]+:\d+:\d+/.test(err.message)) return null;
  const frames = [...err.stack.matchAll(/^\s+at (?:.*? \()?((?:file:\/\/)?\/[^\s()]+?):(\d+):(\d+)\)?\s*$/gm)].map((m) => ({
    file: safeDecode(m[1]!.replace(/^file:\/\//, '')),
    line: m[2]!,
    column: m[3]!,
  }));
  const own = frames.find((f) => f.file === modulePath);
  const first = own ?? frames.find((f) => !f.file.includes('/node_modules/'));
  return first ? `${first.file}:${first.line}:${first.column}` : null;
}

function safeDecode(file: string): string {
  try {
    return decodeURIComponent(file);
  } catch {
    return file;
  }
}
