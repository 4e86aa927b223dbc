import { gatedHttpServer } from './write-gate.js';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { Admission, type QueueLimits } from './admission.js';
import { registerAuth } from './auth.js';
import type { ServerContext } from './context.js';
import { registerDashboard } from './dashboard.js';
import { registerOpsRoutes } from '../ops/routes.js';
import { clientErrorResponse, errorBody, HttpError, toHttpError } from './errors.js';
import { EventFeed } from './event-feed.js';
import { registerInfoRoutes } from './routes/info.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerLiveRoutes } from './routes/live.js';
import { sharedSchemas } from './schemas.js';
import type { Worker } from '../engine/worker.js';
import type { Store } from '../store/contract.js';
import type { Vigil } from '../vigil.js';

export interface AppOptions {
  vigil: Vigil;
  store: Store;
  worker: Worker | null;
  token?: string;
  limits: QueueLimits;
  pollMs: number;
  bodyLimitBytes: number;
  logger: FastifyServerOptions['logger'];
  version: string;
}

/** The Fastify app: hooks, schemas, routes and the dashboard. Listening is src/server/server.ts's job. */
export async function buildApp(options: AppOptions): Promise<{ app: FastifyInstance; ctx: ServerContext }> {
  const app = Fastify({
    logger: options.logger,
    bodyLimit: options.bodyLimitBytes,
    // One line per request, at debug (below), instead of two at info: a burst of submits must not become a burst
    // of log writes. Never log the bearer token: no headers are logged.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    serverFactory: (handler) => gatedHttpServer(handler),
    // A URL the router can not decode (a bad %-escape) is refused before any hook: give it the one error shape.
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      const e = toHttpError(err);
      void reply.code(e.status).headers(e.headers).send(errorBody(e));
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.end(clientErrorResponse(err));
      else socket.destroy(err);
    },
  });
  for (const s of sharedSchemas) app.addSchema(s);
  // JSON only: a text/plain body would otherwise reach validation as a string and get a confusing 400.
  app.removeContentTypeParser('text/plain');
  await app.register(fastifySwagger, {
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Vigil job server',
        version: options.version,
        description: 'Submit, observe, cancel and retry jobs. Every error has the body { error: { code, message, status } }.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: options.token ? [{ bearer: [] }] : [],
    },
  });

  const ctx: ServerContext = {
    vigil: options.vigil,
    store: options.store,
    worker: options.worker,
    admission: new Admission(options.store, options.limits),
    feed: new EventFeed(options.store, { pollMs: options.pollMs, gapWaitMs: options.store.kind === 'postgres' ? 2_000 : 0 }, (err) =>
      app.log.error({ err }, 'event feed: reading the store failed'),
    ),
    pollMs: options.pollMs,
    log: app.log,
    streams: new Set(),
  };

  registerAuth(app, options.token);
  // Per request only when someone reads it: an async hook on every response is a promise and a closure per submit.
  if (app.log.level === 'debug' || app.log.level === 'trace') {
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err);
    if (e.status >= 500) request.log.error({ err }, 'request failed');
    reply.code(e.status).headers(e.headers).send(errorBody(e));
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new HttpError(404, 'VIGIL_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]} (see /api/openapi.json)`);
    reply.code(404).send(errorBody(e));
  });

  registerJobRoutes(app, ctx);
  registerLiveRoutes(app, ctx);
  registerInfoRoutes(app, ctx);
  // /metrics, /healthz and /readyz: the same routes `vigil worker --metrics-port` serves.
  registerOpsRoutes(app, { store: options.store, worker: options.worker ?? undefined });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerDashboard(app);

  app.addHook('onClose', async () => {
    for (const s of [...ctx.streams]) s.end({ reason: 'server closing' });
    await ctx.feed.close();
  });
  return { app, ctx };
}
