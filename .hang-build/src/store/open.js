import { UsageError } from '../errors.js';
/** DESIGN §4: the store used when neither --store nor VIGIL_STORE says otherwise. */
export const DEFAULT_STORE_URL = 'sqlite:./vigil.db';
const ACCEPTED = 'sqlite:PATH (e.g. sqlite:./vigil.db), a path ending in .db (e.g. ./jobs.db), or postgres://user@host:5432/db[?schema=NAME]';
/** The --store flag, else $VIGIL_STORE, else the default. Empty strings count as unset. */
export function storeUrlFromEnv(flag) {
    if (flag !== undefined && flag.trim() !== '')
        return flag.trim();
    const env = process.env.VIGIL_STORE;
    if (env !== undefined && env.trim() !== '')
        return env.trim();
    return DEFAULT_STORE_URL;
}
/** Parses a store URL (DESIGN §6) without opening anything. Throws UsageError VIGIL_STORE_URL for anything else. */
export function parseStoreUrl(url) {
    const u = typeof url === 'string' ? url.trim() : '';
    if (/^postgres(ql)?:\/\//i.test(u))
        return { kind: 'postgres', url: u };
    if (/^sqlite:/i.test(u)) {
        // `sqlite:///abs/file.db` and `sqlite://./file.db` are common spellings of `sqlite:/abs/file.db`.
        const path = u.slice('sqlite:'.length).replace(/^\/\/(?=[/.~]|[A-Za-z]:)/, '');
        if (path === '')
            throw new UsageError('VIGIL_STORE_URL', `the store URL "${u}" names no file; accepted forms: ${ACCEPTED}`);
        return { kind: 'sqlite', path: expandHome(path) };
    }
    if (/\.db$/i.test(u) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u))
        return { kind: 'sqlite', path: expandHome(u) };
    throw new UsageError('VIGIL_STORE_URL', `unsupported store URL ${JSON.stringify(url)}; accepted forms: ${ACCEPTED}`);
}
function expandHome(path) {
    return path.startsWith('~/') && process.env.HOME ? process.env.HOME + path.slice(1) : path;
}
/**
 * Opens the store a URL names: SQLite (relative paths from the current directory) or PostgreSQL. The PostgreSQL
 * driver is loaded only when asked for, so SQLite users never pay for it.
 */
export async function openStore(url) {
    const loc = parseStoreUrl(url);
    if (loc.kind === 'sqlite') {
        const { SqliteStore } = await import('./sqlite/sqlite-store.js');
        return SqliteStore.open(loc.path);
    }
    const { openPostgresStore } = (await import('./postgres/postgres-store.js'));
    return openPostgresStore(loc.url);
}
//# sourceMappingURL=open.js.map