import type { Store } from './contract.js';
/** DESIGN §4: the store used when neither --store nor VIGIL_STORE says otherwise. */
export declare const DEFAULT_STORE_URL = "sqlite:./vigil.db";
export type StoreLocation = {
    kind: 'sqlite';
    path: string;
} | {
    kind: 'postgres';
    url: string;
};
/** The --store flag, else $VIGIL_STORE, else the default. Empty strings count as unset. */
export declare function storeUrlFromEnv(flag?: string): string;
/** Parses a store URL (DESIGN §6) without opening anything. Throws UsageError VIGIL_STORE_URL for anything else. */
export declare function parseStoreUrl(url: string): StoreLocation;
/**
 * Opens the store a URL names: SQLite (relative paths from the current directory) or PostgreSQL. The PostgreSQL
 * driver is loaded only when asked for, so SQLite users never pay for it.
 */
export declare function openStore(url: string): Promise<Store>;
