import pg from 'pg';
import { StoreUnavailableError } from '../../errors.js';
import { errorMessage } from '../../errors.js';
import { parsePostgresUrl } from './url.js';

/** Whether the URL's schema holds a Vigil store, asked without creating or migrating anything. */
export async function postgresSchemaExists(url: string): Promise<{ exists: boolean; description: string }> {
  const loc = parsePostgresUrl(url);
  const client = new pg.Client({ connectionString: loc.connectionString, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ jobs: string | null }>('SELECT to_regclass($1) AS jobs', [`"${loc.schema}".jobs`]);
    return { exists: rows[0]?.jobs != null, description: loc.description };
  } catch (err) {
    throw new StoreUnavailableError(`can not open PostgreSQL store ${loc.description}: ${errorMessage(err)} — is the database running and reachable?`, err);
  } finally {
    await client.end().catch(() => undefined);
  }
}
