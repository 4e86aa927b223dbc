import { pendingResourcesExpression } from './pending.js';
import { SourceMapper } from './source-maps.js';
const TIMEOUT = Symbol('timeout');
const MAX_FRAMES = 64;
const PAUSE_RETRY_MS = 100;
const PAUSE_WAIT_MS = 600;
/** `answerBy`: when a thread that has not answered Debugger.enable is declared unresponsive (≤ deadline). */
export async function captureJsStack(channel, deadline, answerBy = deadline) {
    const scripts = new Map();
    let onPaused = null;
    const paused = new Promise((resolve) => (onPaused = resolve));
    channel.onEvent((method, params) => {
        if (method === 'Debugger.scriptParsed') {
            const p = params;
            scripts.set(p.scriptId, { url: p.url ?? '', sourceMapURL: p.sourceMapURL ?? '' });
        }
        else if (method === 'Debugger.paused') {
            onPaused?.(params);
        }
    });
    const quiet = (p) => p.catch(() => undefined);
    const enabled = await within(quiet(channel.send('Debugger.enable', {})), Math.min(answerBy, deadline));
    if (enabled === TIMEOUT)
        return { responsive: false, stack: [], asyncStack: [], notes: [] };
    const notes = [];
    void quiet(channel.send('Debugger.setAsyncCallStackDepth', { maxDepth: 32 }));
    void quiet(channel.send('Debugger.pause'));
    const probe = channel
        .send('Runtime.evaluate', { expression: pendingResourcesExpression(), returnByValue: true, silent: true })
        .then((r) => r.result?.value ?? [], (err) => [{ type: 'error', description: `pending resources could not be listed: ${err instanceof Error ? err.message : String(err)}` }]);
    // A pause requested while the thread is between two states can be lost (measured: ~1 capture in 50 on a busy
    // loop, the probe answered and no pause followed), so it is asked again until it arrives or the budget ends.
    // A thread that answered Debugger.enable but has not paused within PAUSE_WAIT_MS will not: waiting longer only
    // delays the kill (the capture budget is an upper bound, not a target).
    const pauseBy = Math.min(deadline, performance.now() + PAUSE_WAIT_MS);
    let stop = await within(paused, Math.min(pauseBy, performance.now() + PAUSE_RETRY_MS));
    while (stop === TIMEOUT && performance.now() < pauseBy) {
        void quiet(channel.send('Debugger.pause'));
        stop = await within(paused, Math.min(pauseBy, performance.now() + PAUSE_RETRY_MS));
    }
    let stack = [];
    let asyncStack = [];
    let idle = false;
    if (stop === TIMEOUT) {
        notes.push('the thread answered the inspector but did not pause in time: the JS stack could not be taken');
    }
    else {
        const mapper = new SourceMapper(scripts);
        // Frames of our own probe (an evaluated script, no URL) are not the task's code.
        // (CDP leaves CallFrame.url empty in Node 20: the script's URL comes from scriptParsed.)
        const urlOf = (f) => f.url || scripts.get(f.location?.scriptId ?? f.scriptId ?? '')?.url || '';
        const own = stop.callFrames.filter((f) => urlOf(f) !== '');
        idle = own.length === 0;
        stack = own.slice(0, MAX_FRAMES).map((f) => toFrame(mapper, f));
        for (let trace = stop.asyncStackTrace; trace && asyncStack.length < MAX_FRAMES; trace = trace.parent) {
            for (const f of trace.callFrames) {
                if (urlOf(f) === '')
                    continue;
                asyncStack.push({ ...toFrame(mapper, f), functionName: `${trace.description ? `[${trace.description}] ` : ''}${f.functionName || '(anonymous)'}` });
            }
        }
        asyncStack = asyncStack.slice(0, MAX_FRAMES);
        await within(quiet(channel.send('Debugger.resume')), deadline + 50);
        if (idle)
            notes.push('the thread was idle: no JS was running (it awaits something that never settles); see its pending resources');
    }
    // A thread caught running JS will not run the probe once resumed (it goes back to its loop): do not spend the
    // capture budget (and delay the kill) waiting for it.
    const busy = stop !== TIMEOUT && !idle;
    const resources = await within(probe, Math.min(deadline, performance.now() + (busy ? 50 : 200)));
    // Awaited (briefly): a reply still in flight when the thread is terminated right after has crashed Node 20
    // ("double free") in our tests.
    await within(quiet(channel.send('Debugger.disable')), deadline + 50);
    const capture = { responsive: true, stack, asyncStack, notes };
    if (resources !== TIMEOUT)
        capture.pendingResources = resources;
    else if (!busy)
        notes.push('pending resources were not listed in time');
    return capture;
}
function toFrame(mapper, f) {
    const scriptId = f.location?.scriptId ?? f.scriptId ?? '';
    const line = f.location?.lineNumber ?? f.lineNumber ?? 0;
    const column = f.location?.columnNumber ?? f.columnNumber ?? 0;
    return mapper.frame(f.functionName, scriptId, f.url ?? '', line, column);
}
/** The value, or TIMEOUT once the deadline (performance.now() ms) passes. */
export function within(promise, deadline) {
    const wait = Math.max(0, deadline - performance.now());
    let timer;
    const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve(TIMEOUT), wait);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
export { TIMEOUT };
//# sourceMappingURL=cdp-stack.js.map