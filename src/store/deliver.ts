import type { StoreEvent } from './contract.js';

/**
 * Hands one event to one subscriber, the same way in both stores (Store.subscribe): a throwing subscriber neither
 * fails the write that caused the event nor keeps the event from the other subscribers, and its error is not
 * swallowed either: it is rethrown on its own microtask, where it reaches `uncaughtException` like any bug in an
 * event handler.
 */
export function deliver(listener: (event: StoreEvent) => void, event: StoreEvent): void {
  try {
    listener(event);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
