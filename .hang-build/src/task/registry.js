import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError, VigilError } from '../errors.js';
import { isTaskDefinition } from './define.js';
let tsxRegistered = false;
/** Task modules may be TypeScript: load them through tsx, in whatever thread or process asks. */
async function ensureTypeScriptLoader(path) {
    if (tsxRegistered || !/\.(c|m)?tsx?$/.test(path))
        return;
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered = true;
}
const cache = new Map();
/**
 * Imports a tasks module and collects every task definition it exports (named exports, the default export, or
 * arrays/objects of definitions in either). Cached per path for the life of the thread.
 */
export function loadTasks(modulePath) {
    const path = isAbsolute(modulePath) ? modulePath : resolve(modulePath);
    let pending = cache.get(path);
    if (!pending) {
        pending = importTasks(path);
        cache.set(path, pending);
        pending.catch(() => cache.delete(path));
    }
    return pending;
}
async function importTasks(path) {
    if (!existsSync(path)) {
        throw new UsageError('VIGIL_TASKS_MODULE_LOAD', `tasks module not found: ${path} (pass --tasks <path to a .ts or .js module>)`);
    }
    await ensureTypeScriptLoader(path);
    let mod;
    try {
        mod = (await import(pathToFileURL(path).href));
    }
    catch (err) {
        throw new UsageError('VIGIL_TASKS_MODULE_LOAD', `tasks module ${path} failed to load: ${err instanceof Error ? err.message : String(err)} (fix the module; nothing was submitted)`, { cause: err });
    }
    const tasks = new Map();
    const add = (value) => {
        if (isTaskDefinition(value)) {
            const existing = tasks.get(value.options.name);
            if (existing && existing !== value) {
                throw new VigilError('VIGIL_DUPLICATE_TASK', `tasks module ${path} defines task "${value.options.name}" twice; task names must be unique`);
            }
            tasks.set(value.options.name, value);
        }
        else if (Array.isArray(value)) {
            value.forEach(add);
        }
        else if (value && typeof value === 'object' && value.constructor === Object) {
            Object.values(value).forEach((v) => (isTaskDefinition(v) ? add(v) : undefined));
        }
    };
    Object.values(mod).forEach(add);
    if (tasks.size === 0) {
        throw new UsageError('VIGIL_TASKS_MODULE_LOAD', `tasks module ${path} exports no task: export the values returned by defineTask(...)`);
    }
    return tasks;
}
export function requireTask(tasks, name, modulePath) {
    const task = tasks.get(name);
    if (!task) {
        const known = [...tasks.keys()].sort().join(', ');
        throw new UsageError('VIGIL_UNKNOWN_TASK', `unknown task "${name}"${modulePath ? ` in ${modulePath}` : ''} (known tasks: ${known || 'none'})`);
    }
    return task;
}
//# sourceMappingURL=registry.js.map