import pg from 'pg';
export type Row = Record<string, unknown>;
/** What every store operation gets: one round trip, or one transaction. Operations never see the pool itself. */
export interface Db {
    /** The quoted schema, to prefix table names. */
    readonly s: string;
    query<R extends Row = Row>(sql: string, params?: unknown[]): Promise<R[]>;
    /**
     * A read that may be repeated: it is retried once on a fresh connection when the first one turns out dead
     * (an idle pooled connection killed by a restart is only noticed when used).
     */
    read<R extends Row = Row>(sql: string, params?: unknown[]): Promise<R[]>;
    tx<T>(work: (q: <R extends Row = Row>(sql: string, params?: unknown[]) => Promise<R[]>) => Promise<T>): Promise<T>;
}
export declare function isUnavailable(err: unknown): boolean;
export declare function toStoreError(err: unknown, description: string): unknown;
export declare function createDb(pool: pg.Pool, schema: string, description: string): Db;
