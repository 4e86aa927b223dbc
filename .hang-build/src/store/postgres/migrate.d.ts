import pg from 'pg';
import { type Migration } from '../migrate.js';
export declare function loadMigrations(): Migration[];
/**
 * Brings the schema up to date in one transaction. Several workers starting at once all call this: the advisory
 * lock (keyed on the schema) makes them take turns, and the ones that come second find nothing left to do. A
 * failed migration rolls back entirely, leaving the previous version intact.
 */
export declare function migrate(client: pg.ClientBase, schema: string, migrations?: Migration[]): Promise<number[]>;
