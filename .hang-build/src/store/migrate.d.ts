/** One numbered schema change: `NNN_name.sql` in a dialect's migrations folder. */
export interface Migration {
    version: number;
    name: string;
    sql: string;
}
/**
 * The migrations folder of a dialect. Located from this module's own URL so it works both from `src/` (tsx) and
 * from `dist/src/` (the build copies `src/store/migrations/**` next to the compiled code).
 */
export declare function migrationsDir(dialect: 'sqlite' | 'postgres'): string;
/** Reads `NNN_name.sql` files in version order. Gaps and duplicate versions are a packaging bug: refuse them. */
export declare function readMigrations(dir: string): Migration[];
