import type { FastifyInstance } from 'fastify';
import type { Worker } from '../engine/worker.js';
import type { Store } from '../store/contract.js';
import { LoopTracker, liveness, readiness } from './health.js';
import { VigilMetrics } from './metrics.js';

export interface OpsRouteDeps {
  store: Store;
  /** The worker of this process, if any: adds its claim loop to /readyz and its counts to /metrics. */
  worker?: Worker;
  /** Default: new metrics observing `store` and `worker`. */
  metrics?: VigilMetrics;
}

/**
 * GET /metrics (Prometheus text), /healthz (the process answers) and /readyz (store, schema, claim loop, backlog),
 * on any Fastify instance: `vigil serve` and `vigil worker --metrics-port` share them. JSON bodies say what failed.
 */
export function registerOpsRoutes(app: FastifyInstance, deps: OpsRouteDeps): VigilMetrics {
  const metrics = deps.metrics ?? new VigilMetrics();
  if (!deps.metrics) {
    metrics.observeStore(deps.store);
    if (deps.worker) metrics.observeWorker(deps.worker);
  }
  const tracker = deps.worker ? new LoopTracker(deps.worker) : undefined;
  app.addHook('onClose', async () => {
    tracker?.close();
    if (!deps.metrics) metrics.close();
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.text();
    return reply.header('content-type', metrics.contentType).send(text);
  });
  app.get('/healthz', async () => liveness());
  app.get('/readyz', async (_request, reply) => {
    const result = await readiness(deps.store, deps.worker, tracker);
    return reply.code(result.ready ? 200 : 503).send(result);
  });
  return metrics;
}
