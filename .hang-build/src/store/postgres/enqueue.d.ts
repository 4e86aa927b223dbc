import type { EnqueueResult, NewJob } from '../contract.js';
import type { Db } from './db.js';
/**
 * Inserts a batch in one statement (`INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`), so 1,000 children of
 * a fan-out cost one round trip. Rows that hit a (parent, childKey) or idempotency key come back as the existing job.
 */
export declare function enqueue(db: Db, jobs: NewJob[]): Promise<EnqueueResult[]>;
