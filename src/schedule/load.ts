import { VigilError } from '../errors.js';
import { importModule, type TaskMap } from '../task/registry.js';
import { isScheduleDefinition, type ScheduleDefinition } from './define.js';

/**
 * The schedules a tasks module exports (named exports, the default export, or arrays/objects of definitions),
 * checked against its tasks. The module is already imported by loadTasks: Node's module cache makes this free.
 */
export async function loadSchedules(modulePath: string, tasks: TaskMap): Promise<ScheduleDefinition[]> {
  const mod = await importModule<Record<string, unknown>>(modulePath);
  const found = new Map<string, ScheduleDefinition>();
  const add = (value: unknown): void => {
    if (isScheduleDefinition(value)) {
      const existing = found.get(value.name);
      if (existing && existing !== value) {
        throw new VigilError('VIGIL_INVALID_SCHEDULE', `tasks module ${modulePath} defines schedule "${value.name}" twice; schedule names must be unique`);
      }
      found.set(value.name, value);
    } else if (Array.isArray(value)) {
      value.forEach(add);
    } else if (value && typeof value === 'object' && value.constructor === Object) {
      Object.values(value).forEach((v) => (isScheduleDefinition(v) ? add(v) : undefined));
    }
  };
  Object.values(mod).forEach(add);
  for (const s of found.values()) {
    if (!tasks.has(s.task)) {
      const known = [...tasks.keys()].sort().join(', ');
      throw new VigilError('VIGIL_INVALID_SCHEDULE', `schedule "${s.name}" names task "${s.task}", which ${modulePath} does not define (known tasks: ${known})`);
    }
  }
  return [...found.values()];
}
