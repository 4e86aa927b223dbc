import type { Store } from '../store/contract.js';
import { TERMINAL_STATES } from '../types.js';

/** A descendant that a job tree's deadline caught unfinished (listed in the root's error, `details.outOfTime`). */
export type OutOfTime = {
  jobId: string;
  parentId: string;
  key: string;
  task: string;
  state: string;
};

const MAX_LISTED = 200;

/**
 * One deadline bounds a whole job tree (a child's deadline is capped at its parent's by the store), so when a
 * parent's deadline passes, its unfinished descendants are running out of time with it. Lists them breadth first,
 * at most 200, descending only into those (a child that finished otherwise has a finished subtree). Best effort: a store error
 * gives what was read so far — the parent's outcome must still be written.
 */
export async function unfinishedDescendants(store: Store, rootId: string): Promise<OutOfTime[]> {
  const out: OutOfTime[] = [];
  try {
    let level = [rootId];
    while (level.length > 0 && out.length < MAX_LISTED) {
      const next: string[] = [];
      for (const id of level) {
        if (out.length >= MAX_LISTED) break;
        for (const c of await store.children(id)) {
          const open = !TERMINAL_STATES.includes(c.state);
          if (!open && c.error?.kind !== 'deadline') continue;
          next.push(c.id);
          if (out.length < MAX_LISTED) out.push({ jobId: c.id, parentId: id, key: c.childKey ?? '', task: c.task, state: c.state });
        }
      }
      level = next;
    }
  } catch {
    // Best effort: the list is a courtesy; the outcome is what matters.
  }
  return out;
}
