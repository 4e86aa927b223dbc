import { type TaskDefinition } from './define.js';
export type TaskMap = Map<string, TaskDefinition>;
/**
 * Imports a tasks module and collects every task definition it exports (named exports, the default export, or
 * arrays/objects of definitions in either). Cached per path for the life of the thread.
 */
export declare function loadTasks(modulePath: string): Promise<TaskMap>;
export declare function requireTask(tasks: TaskMap, name: string, modulePath?: string): TaskDefinition;
