// 'vigil/ops': metrics and health routes for embedding in your own server. Separate from the main entry because it
// loads prom-client, which task processes (they import 'vigil' for defineTask) must not pay for at every start.
export { VigilMetrics, instrumentStore } from './metrics.js';
export type { MetricsOptions } from './metrics.js';
export { registerOpsRoutes } from './routes.js';
export type { OpsRouteDeps } from './routes.js';
export { readiness, liveness as healthz } from './health.js';
export type { Readiness, ReadinessCheck } from './health.js';
