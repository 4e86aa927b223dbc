import { type Command } from 'commander';
import { Vigil } from '../vigil.js';
/** Options every store-backed command shares. */
export interface StoreOptions {
    store?: string;
}
export declare function storeOption(cmd: Command): Command;
export declare function jsonOption(cmd: Command, what?: string): Command;
/** "Example:" block under a command's help, so every --help shows one real invocation. */
export declare function example(cmd: Command, ...lines: string[]): Command;
/**
 * Opens the API on the store named by --store / $VIGIL_STORE / the default. The tasks module (when given) is
 * loaded first, by Vigil.open, so a module that fails to import never touches the store.
 */
export declare function openVigil(opts: StoreOptions, tasks?: string): Promise<Vigil>;
export declare function withVigil<T>(opts: StoreOptions, fn: (vigil: Vigil) => Promise<T>, tasks?: string): Promise<T>;
/** Commander argument parser for integers in a range (commander turns the throw into a usage error). */
export declare function intArg(min: number, max?: number): (value: string) => number;
/** Commander argument parser for durations ("250ms", "30s", "5m", "1h" or milliseconds), at least `minMs`. */
export declare function durationArg(minMs?: number): (value: string) => number;
/** Resolves once one of the signals arrives; `off()` removes the listeners. */
export declare function onSignals(signals: NodeJS.Signals[], handler: (signal: NodeJS.Signals, count: number) => void): () => void;
/** `unref`: a bound in a race must not itself keep the process alive after the race is decided. */
export declare function sleep(ms: number, options?: {
    unref?: boolean;
}): Promise<void>;
