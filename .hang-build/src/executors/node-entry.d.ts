/** Absolute path of `name` (without extension) next to this module: `thread-host` → …/thread-host.ts or .js. */
export declare function entryPath(name: string): string;
/** True when the entries are TypeScript and must be loaded through tsx. */
export declare function entriesNeedTsx(): boolean;
/** `--import <tsx loader>` for a forked Node process, so it can load .ts entries and task modules. */
export declare function tsxExecArgv(): string[];
/**
 * execArgv for a forked executor process (a thread host or an attempt process). The only place fork flags are
 * built: forensics may add flags here (e.g. --report-on-signal).
 */
export declare function forkExecArgv(): string[];
/**
 * What to pass to `new Worker(...)` to run the entry `name` in a thread. Module customization hooks (tsx) do not
 * reach worker threads in Node 20, so from source a tiny eval bootstrap registers tsx in the thread first.
 */
export declare function workerEntry(name: string): {
    filename: string | URL;
    eval: boolean;
};
