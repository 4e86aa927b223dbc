export interface PostgresLocation {
    /** What the `pg` driver gets: the URL without Vigil's own parameters. */
    connectionString: string;
    /** Unquoted schema name, validated. */
    schema: string;
    /** The URL without password, for messages. */
    description: string;
}
/** `postgres://user:pass@host:port/db?schema=NAME` (default schema `vigil`); `postgresql://` works too. */
export declare function parsePostgresUrl(url: string): PostgresLocation;
export declare function quoteIdent(name: string): string;
