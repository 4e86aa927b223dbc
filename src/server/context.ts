import type { FastifyBaseLogger } from 'fastify';
import type { Worker } from '../engine/worker.js';
import type { Store } from '../store/contract.js';
import type { Vigil } from '../vigil.js';
import type { Admission } from './admission.js';
import type { EventFeed } from './event-feed.js';

/** What the routes share; built once per server. */
export interface ServerContext {
  vigil: Vigil;
  store: Store;
  worker: Worker | null;
  admission: Admission;
  feed: EventFeed;
  pollMs: number;
  log: FastifyBaseLogger;
  /** Live streams end through this when the server closes (a hijacked response would keep it open). */
  streams: Set<{ end(data?: unknown): void }>;
}
