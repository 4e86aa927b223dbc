import { StoreUnavailableError } from '../../errors.js';
import { migrationsDir, readMigrations } from '../migrate.js';
import { quoteIdent } from './url.js';
export function loadMigrations() {
    // Located from src/store/migrate.ts's own URL: works from src/ (tsx) and from dist/src/ (the build copies them).
    return readMigrations(migrationsDir('postgres'));
}
/**
 * Brings the schema up to date in one transaction. Several workers starting at once all call this: the advisory
 * lock (keyed on the schema) makes them take turns, and the ones that come second find nothing left to do. A
 * failed migration rolls back entirely, leaving the previous version intact.
 */
export async function migrate(client, schema, migrations = loadMigrations()) {
    const s = quoteIdent(schema);
    await client.query('BEGIN');
    try {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`vigil:migrate:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        const done = new Set((await client.query(`SELECT version FROM ${s}.schema_migrations`)).rows.map((r) => r.version));
        const newest = Math.max(0, ...migrations.map((m) => m.version));
        const ahead = [...done].filter((v) => v > newest);
        if (ahead.length > 0) {
            throw new StoreUnavailableError(`PostgreSQL schema "${schema}" is at version ${Math.max(...ahead)} but this Vigil knows versions up to ${newest}: upgrade Vigil (a newer one migrated this store)`);
        }
        const applied = [];
        // pg_catalog stays implicitly first; nothing of the user's public schema leaks into Vigil's objects.
        await client.query(`SET LOCAL search_path TO ${s}`);
        for (const m of migrations) {
            if (done.has(m.version))
                continue;
            await client.query(m.sql);
            await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
            applied.push(m.version);
        }
        await client.query('COMMIT');
        return applied;
    }
    catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
    }
}
//# sourceMappingURL=migrate.js.map