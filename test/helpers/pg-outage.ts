import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A real PostgreSQL outage that touches nobody else: the store connects as a role of its own, in a schema of its
 * own; `down()` forbids that role to log in and terminates its connections (every query and every reconnect
 * fails, as when the server is unreachable), `up()` lets it in again. The server itself is never stopped.
 */
export interface PgOutage {
  /** Store URL: this role, this schema. */
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function pgOutage(base: string): Promise<PgOutage> {
  const id = randomBytes(5).toString('hex');
  const role = `vigil_outage_${id}`;
  const schema = `vigil_test_${id}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const parsed = new URL(base);
  const database = decodeURIComponent(parsed.pathname.slice(1));
  await admin.query(`CREATE ROLE "${role}" LOGIN`);
  await admin.query(`GRANT CREATE, CONNECT ON DATABASE "${database}" TO "${role}"`);
  parsed.username = role;
  parsed.password = '';
  parsed.searchParams.set('schema', schema);
  const terminate = () => admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
  return {
    url: parsed.toString(),
    async down() {
      await admin.query(`ALTER ROLE "${role}" NOLOGIN`);
      await terminate();
    },
    async up() {
      await admin.query(`ALTER ROLE "${role}" LOGIN`);
    },
    async cleanup() {
      try {
        await admin.query(`ALTER ROLE "${role}" NOLOGIN`);
        await terminate();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.query(`DROP OWNED BY "${role}"`);
        await admin.query(`DROP ROLE IF EXISTS "${role}"`);
      } finally {
        await admin.end();
      }
    },
  };
}
