import type { FastifyInstance } from 'fastify';
import type { Worker } from '../engine/worker.js';
import type { Store } from '../store/contract.js';
import { openStore } from '../store/open.js';
import { loadTasks } from '../task/registry.js';
import { Vigil } from '../vigil.js';
import type { VigilMetrics } from './metrics.js';
import { WebhookSender } from './webhook.js';

export interface OpsSidecarOptions {
  storeUrl: string;
  tasks: string;
  /** Collect metrics (and time every store operation). */
  metrics: boolean;
  webhookUrl?: string;
  log(text: string): void;
}

/** Everything operational around one `vigil worker`: instrumented store, metrics server, webhook alerts. */
export interface OpsSidecar {
  vigil: Vigil;
  attach(worker: Worker, server: { port: number; host: string } | null): Promise<void>;
  close(): Promise<void>;
}

/** How long a stopping worker lets queued alerts go out. */
const WEBHOOK_FLUSH_MS = 2_000;

export async function startOpsSidecar(options: OpsSidecarOptions): Promise<OpsSidecar> {
  // prom-client and Fastify load only for --metrics-port.
  const metrics = options.metrics ? new (await import('./metrics.js')).VigilMetrics() : null;
  // The tasks module is loaded first (as Vigil.open does) so a broken module never touches the store.
  await loadTasks(options.tasks);
  const raw: Store = await openStore(options.storeUrl);
  const store = metrics ? metrics.instrumentStore(raw) : raw;
  let vigil: Vigil;
  try {
    vigil = await Vigil.open({ store, tasks: options.tasks });
  } catch (err) {
    await raw.close().catch(() => undefined);
    throw err;
  }
  metrics?.observeStore(store);
  const webhook = options.webhookUrl ? new WebhookSender(options.webhookUrl) : null;
  let app: FastifyInstance | null = null;
  const offHang = vigil.onHang((alert) => {
    if (alert.type === 'supervisor_frozen') {
      metrics?.recordFreeze(alert.freeze);
      // The watchdog thread already POSTed it, while the loop was frozen; the main loop only counts it.
      return;
    }
    if (alert.type === 'worker_lost') options.log(alert.message);
    webhook?.send(alert);
  });

  return {
    vigil,
    async attach(worker, server) {
      if (metrics) metrics.observeWorker(worker);
      if (!server) return;
      const [{ default: Fastify }, { registerOpsRoutes }] = await Promise.all([import('fastify'), import('./routes.js')]);
      app = Fastify({ logger: false });
      registerOpsRoutes(app, { store, worker, metrics: metrics ?? undefined });
      const address = await app.listen({ port: server.port, host: server.host });
      options.log(`metrics, health and readiness on ${address}/metrics, /healthz, /readyz`);
    },
    async close() {
      offHang();
      await app?.close().catch(() => undefined);
      await vigil.close().catch(() => undefined);
      await webhook?.close(WEBHOOK_FLUSH_MS);
      metrics?.close();
      await raw.close().catch(() => undefined);
    },
  };
}
