import { StoreUnavailableError, VigilError, errorMessage } from '../../errors.js';
// SQLSTATE classes and codes that mean "the database went away", not "the query is wrong".
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '08000', '08001', '08003', '08004', '08006', '08007']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const UNAVAILABLE_MESSAGES = [
    'Connection terminated',
    'connection timeout',
    'timeout exceeded when trying to connect',
    'Query read timeout',
    'not queryable',
    'Client was closed',
    'Cannot use a pool after calling end',
];
/** Deadlocks and serialization failures: the transaction was rolled back, doing it again is safe. */
const RETRY_SQLSTATES = new Set(['40P01', '40001']);
export function isUnavailable(err) {
    if (err instanceof StoreUnavailableError)
        return true;
    const e = err;
    if (!e || typeof e !== 'object')
        return false;
    if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATES.has(e.code) || UNAVAILABLE_ERRNOS.has(e.code)))
        return true;
    const message = typeof e.message === 'string' ? e.message : '';
    return UNAVAILABLE_MESSAGES.some((m) => message.includes(m));
}
export function toStoreError(err, description) {
    if (err instanceof VigilError)
        return err;
    if (isUnavailable(err)) {
        return new StoreUnavailableError(`PostgreSQL store ${description} is unavailable (${errorMessage(err)}); Vigil retries with backoff — check that the database is up and reachable`, err);
    }
    return err;
}
export function createDb(pool, schema, description) {
    const run = async (sql, params) => {
        for (let attempt = 1;; attempt++) {
            try {
                const res = await pool.query(sql, params);
                return res.rows;
            }
            catch (err) {
                if (attempt < 4 && isRetryable(err))
                    continue;
                throw toStoreError(err, description);
            }
        }
    };
    return {
        s: schema,
        query: run,
        async read(sql, params) {
            try {
                return await run(sql, params);
            }
            catch (err) {
                if (!(err instanceof StoreUnavailableError))
                    throw err;
                return run(sql, params);
            }
        },
        async tx(work) {
            for (let attempt = 1;; attempt++) {
                let client;
                try {
                    client = await pool.connect();
                }
                catch (err) {
                    throw toStoreError(err, description);
                }
                let broken;
                try {
                    await client.query('BEGIN');
                    const q = async (sql, params) => (await client.query(sql, params)).rows;
                    const out = await work(q);
                    await client.query('COMMIT');
                    return out;
                }
                catch (err) {
                    if (isUnavailable(err)) {
                        broken = err;
                    }
                    else {
                        await client.query('ROLLBACK').catch((rollbackErr) => {
                            broken = rollbackErr;
                        });
                    }
                    if (attempt < 4 && isRetryable(err))
                        continue;
                    throw toStoreError(err, description);
                }
                finally {
                    // A connection that failed mid-transaction is destroyed, never handed to the next caller.
                    client.release(broken);
                }
            }
        },
    };
}
function isRetryable(err) {
    const code = err?.code;
    return typeof code === 'string' && RETRY_SQLSTATES.has(code);
}
//# sourceMappingURL=db.js.map