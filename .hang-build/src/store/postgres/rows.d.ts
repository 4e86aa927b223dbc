import type { Attempt, Job, LogLine } from '../../types.js';
import type { Row } from './db.js';
/** Columns of a job row, in SELECT lists and RETURNING clauses (prefix with an alias when joining). */
export declare const JOB_COLUMNS: string[];
export declare function jobColumns(alias?: string): string;
export declare function toJob(r: Row): Job;
export declare function toAttempt(r: Row): Attempt;
export declare function toLogLine(r: Row): LogLine;
export declare function json(value: unknown): string | null;
/** JSON input and results must be JSON: `undefined` (a task that returned nothing) is stored as null. */
export declare function jsonValue(value: unknown): string;
/** Ids are decimal strings; anything else can never match a row, and must not reach a bigint cast. */
export declare function validIds(ids: readonly string[]): string[];
export declare function orderByIds<T extends {
    id: string;
}>(ids: readonly string[], items: T[]): T[];
