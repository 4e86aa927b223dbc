import { TERMINAL_STATES } from '../types.js';
/**
 * Re-reads `ids` whenever the store reports a change (or every pollMs) until `done(jobs)` returns a value other
 * than undefined. Event-driven in-process; polling only covers what no event can announce.
 */
export async function waitForJobs(store, ids, done, options = {}) {
    const pollMs = options.pollMs ?? (store.crossProcessEvents ? 5_000 : 250);
    const watched = new Set(ids);
    let wake = null;
    let dirty = true;
    const unsubscribe = store.subscribe((event) => {
        if (event.type === 'finished' && !watched.has(event.jobId))
            return;
        dirty = true;
        wake?.();
    });
    const onAbort = () => wake?.();
    options.signal?.addEventListener('abort', onAbort);
    try {
        for (;;) {
            options.signal?.throwIfAborted();
            if (dirty) {
                dirty = false;
                const jobs = await store.getMany(ids);
                const result = done(jobs);
                if (result !== undefined)
                    return result;
            }
            await new Promise((resolve) => {
                const timer = setTimeout(() => {
                    dirty = true;
                    resolve();
                }, pollMs);
                wake = () => {
                    clearTimeout(timer);
                    resolve();
                };
            });
            wake = null;
        }
    }
    finally {
        unsubscribe();
        options.signal?.removeEventListener('abort', onAbort);
    }
}
export function isTerminal(job) {
    return TERMINAL_STATES.includes(job.state);
}
//# sourceMappingURL=waiter.js.map