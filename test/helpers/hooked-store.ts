import type { Store } from '../../src/store/contract.js';

/**
 * A real store with some methods wrapped: the wrappers call the real method and only add latency or hold an answer
 * back, the way a slow or stalled database connection does. Nothing is faked: every answer comes from the store.
 */
export function hooked(real: Store, hooks: Partial<Pick<Store, 'claim' | 'nextRunAt' | 'renewLeases' | 'finishAttempt' | 'getMany'>>): Store {
  return new Proxy(real, {
    get(target, prop) {
      if (prop in hooks) return hooks[prop as keyof typeof hooks];
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A gate tests open when they are ready; `wait()` resolves once it is open. */
export function gate(): { wait(): Promise<void>; open(): void; readonly isOpen: boolean } {
  let open!: () => void;
  let isOpen = false;
  const opened = new Promise<void>((r) => (open = r));
  return {
    wait: () => opened,
    open() {
      isOpen = true;
      open();
    },
    get isOpen() {
      return isOpen;
    },
  };
}
