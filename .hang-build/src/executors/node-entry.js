import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
/**
 * Where the entry files of executor processes and threads live, and how to start them. From src (tests, tsx) the
 * entries are .ts files that need tsx's loader; from dist they are plain .js.
 */
const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith('.ts');
const require = createRequire(import.meta.url);
/** Absolute path of `name` (without extension) next to this module: `thread-host` → …/thread-host.ts or .js. */
export function entryPath(name) {
    return fileURLToPath(new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url));
}
/** True when the entries are TypeScript and must be loaded through tsx. */
export function entriesNeedTsx() {
    return fromSource;
}
/** `--import <tsx loader>` for a forked Node process, so it can load .ts entries and task modules. */
export function tsxExecArgv() {
    return ['--import', pathToFileURL(require.resolve('tsx')).href];
}
/**
 * execArgv for a forked executor process (a thread host or an attempt process). The only place fork flags are
 * built: forensics may add flags here (e.g. --report-on-signal).
 */
export function forkExecArgv() {
    return fromSource ? tsxExecArgv() : [];
}
/**
 * What to pass to `new Worker(...)` to run the entry `name` in a thread. Module customization hooks (tsx) do not
 * reach worker threads in Node 20, so from source a tiny eval bootstrap registers tsx in the thread first.
 */
export function workerEntry(name) {
    const path = entryPath(name);
    if (!fromSource)
        return { filename: pathToFileURL(path), eval: false };
    // import.meta.resolve gives the ESM build of the API (require.resolve would give the CommonJS one).
    const api = import.meta.resolve('tsx/esm/api');
    const entry = pathToFileURL(path).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return { filename: code, eval: true };
}
//# sourceMappingURL=node-entry.js.map