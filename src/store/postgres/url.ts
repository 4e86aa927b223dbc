import { UsageError } from '../../errors.js';

export interface PostgresLocation {
  /** What the `pg` driver gets: the URL without Vigil's own parameters. */
  connectionString: string;
  /** Unquoted schema name, validated. */
  schema: string;
  /** The URL without password, for messages. */
  description: string;
}

// Identifiers stay simple so the schema can be quoted into SQL and into a NOTIFY channel name (63 bytes max).
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/;

/** `postgres://user:pass@host:port/db?schema=NAME` (default schema `vigil`); `postgresql://` works too. */
export function parsePostgresUrl(url: string): PostgresLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new UsageError('VIGIL_STORE_URL', `store URL "${redact(url)}" is not a valid URL (expected postgres://user@host:5432/db?schema=vigil)`, { cause });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError('VIGIL_STORE_URL', `store URL "${redact(url)}" is not a PostgreSQL URL (expected postgres://…)`);
  }
  // The driver %-decodes these parts itself and throws a bare URIError on a broken escape (host "%8D19", found by
  // test/fuzz-input.test.ts), on some paths from a callback whose promise then never settles.
  for (const [part, value] of [['host', parsed.hostname], ['user name', parsed.username], ['password', parsed.password], ['database name', parsed.pathname]] as const) {
    try {
      decodeURIComponent(value);
    } catch (cause) {
      throw new UsageError('VIGIL_STORE_URL', `store URL "${redact(url)}": its ${part} has a broken %-escape (write a literal % as %25)`, { cause });
    }
  }
  const schema = parsed.searchParams.get('schema') ?? 'vigil';
  if (!SCHEMA_NAME.test(schema)) {
    throw new UsageError(
      'VIGIL_STORE_URL',
      `store URL: schema "${schema}" is not allowed: use letters, digits and _ (at most 51 characters, not starting with a digit)`,
    );
  }
  parsed.searchParams.delete('schema');
  const connectionString = parsed.toString();
  const shown = new URL(parsed.toString());
  if (shown.password) shown.password = '***';
  // libpq-style ?password=… is honoured by the driver: never shown either.
  if (shown.searchParams.has('password')) shown.searchParams.set('password', '***');
  shown.searchParams.set('schema', schema);
  return { connectionString, schema, description: shown.toString() };
}

function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
