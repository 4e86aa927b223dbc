import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreUnavailableError } from '../errors.js';

/** One numbered schema change: `NNN_name.sql` in a dialect's migrations folder. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{3,})_([A-Za-z0-9_-]+)\.sql$/;

/**
 * The migrations folder of a dialect. Located from this module's own URL so it works both from `src/` (tsx) and
 * from `dist/src/` (the build copies `src/store/migrations/**` next to the compiled code).
 */
export function migrationsDir(dialect: 'sqlite' | 'postgres'): string {
  return fileURLToPath(new URL(`./migrations/${dialect}/`, import.meta.url));
}

/** Reads `NNN_name.sql` files in version order. Gaps and duplicate versions are a packaging bug: refuse them. */
export function readMigrations(dir: string): Migration[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    throw new StoreUnavailableError(
      `the schema migrations folder ${dir} cannot be read: the Vigil installation is incomplete (reinstall it, or run "npm run build" to copy src/store/migrations into dist)`,
      err,
    );
  }
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = FILE.exec(file);
    if (!m) continue;
    migrations.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  migrations.sort((a, b) => a.version - b.version);
  // Numbers are handed out to features built in parallel, so a gap can be legitimate for a while; a version is
  // applied whenever it is not yet recorded, so a late one still runs. Duplicates are a packaging bug.
  migrations.forEach((m, i) => {
    if (i > 0 && m.version === migrations[i - 1]!.version) {
      throw new StoreUnavailableError(`schema migrations in ${dir} must have distinct numbers (found ${m.version} twice)`);
    }
  });
  if (migrations.length === 0) throw new StoreUnavailableError(`no schema migrations found in ${dir}: the Vigil installation is incomplete`);
  return migrations;
}

/** The schema version a store has once every migration here is applied: the highest number (numbers may skip). */
export function latestVersion(dir: string): number {
  return readMigrations(dir).reduce((max, m) => Math.max(max, m.version), 0);
}
