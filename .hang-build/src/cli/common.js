import { InvalidArgumentError } from 'commander';
import { storeUrlFromEnv } from '../store/open.js';
import { parseDuration } from '../task/duration.js';
import { Vigil } from '../vigil.js';
export function storeOption(cmd) {
    return cmd.option('--store <url>', 'store URL: sqlite:PATH or postgres://… (default: $VIGIL_STORE, else sqlite:./vigil.db)');
}
export function jsonOption(cmd, what = 'the result') {
    return cmd.option('--json', `print ${what} as JSON`);
}
/** "Example:" block under a command's help, so every --help shows one real invocation. */
export function example(cmd, ...lines) {
    return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}
/**
 * Opens the API on the store named by --store / $VIGIL_STORE / the default. The tasks module (when given) is
 * loaded first, by Vigil.open, so a module that fails to import never touches the store.
 */
export function openVigil(opts, tasks) {
    return Vigil.open({ store: storeUrlFromEnv(opts.store), tasks });
}
export async function withVigil(opts, fn, tasks) {
    const vigil = await openVigil(opts, tasks);
    try {
        return await fn(vigil);
    }
    finally {
        await vigil.close();
    }
}
/** Commander argument parser for integers in a range (commander turns the throw into a usage error). */
export function intArg(min, max = Number.MAX_SAFE_INTEGER) {
    return (value) => {
        const n = Number(value);
        if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
            throw new InvalidArgumentError(`must be an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` from ${min} to ${max}`}.`);
        }
        return n;
    };
}
/** Commander argument parser for durations ("250ms", "30s", "5m", "1h" or milliseconds), at least `minMs`. */
export function durationArg(minMs = 0) {
    return (value) => {
        let ms;
        try {
            ms = parseDuration(value);
        }
        catch {
            throw new InvalidArgumentError('must be a duration like "250ms", "30s", "5m", "1h" or milliseconds.');
        }
        if (ms < minMs)
            throw new InvalidArgumentError(`must be at least ${minMs} ms.`);
        return ms;
    };
}
/** Resolves once one of the signals arrives; `off()` removes the listeners. */
export function onSignals(signals, handler) {
    let count = 0;
    const listener = (signal) => handler(signal, ++count);
    for (const s of signals)
        process.on(s, listener);
    return () => {
        for (const s of signals)
            process.off(s, listener);
    };
}
/** `unref`: a bound in a race must not itself keep the process alive after the race is decided. */
export function sleep(ms, options = {}) {
    return new Promise((r) => {
        const t = setTimeout(r, ms);
        if (options.unref)
            t.unref();
    });
}
//# sourceMappingURL=common.js.map