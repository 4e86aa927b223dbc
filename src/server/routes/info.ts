import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { statsSchema, workersSchema } from '../schemas.js';

const WINDOW_MS = 60 * 60_000;
const BUCKET_MS = 60_000;

export function registerInfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/workers', { schema: workersSchema }, async () => {
    const [workers, now] = await Promise.all([ctx.store.listWorkers(), ctx.store.now()]);
    return { now, workers };
  });

  app.get('/api/stats', { schema: statsSchema }, async () => {
    const s = await ctx.store.stats({ windowMs: WINDOW_MS, bucketMs: BUCKET_MS });
    return { ...s, oldestQueuedAgeMs: s.oldestQueuedAt === null ? null : Math.max(0, s.now - s.oldestQueuedAt), bucketMs: BUCKET_MS };
  });
}
