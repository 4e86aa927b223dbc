import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { pino } from 'pino';
import type { Worker } from '../engine/worker.js';
import type { StartWorkerOptions, Vigil } from '../vigil.js';
import type { Store } from '../store/contract.js';
import type { QueueLimits } from './admission.js';
import { buildApp } from './app.js';
import { checkBind } from './auth.js';

export interface ServeOptions {
  /** Default 127.0.0.1. Any other address needs a token. */
  host?: string;
  /** Default 7070; 0 picks a free port. */
  port?: number;
  /** Bearer token required on /api/*. Default: $VIGIL_TOKEN. */
  token?: string;
  /** Run a worker in this process (default true), optionally with its options. */
  worker?: boolean | StartWorkerOptions;
  /** Queue limits past which submits get 429 with Retry-After. Default: none. */
  queueLimit?: QueueLimits;
  /** How often live streams poll the store (events of other processes arrive within this). Default 250 ms. */
  pollMs?: number;
  /** Largest request body. Default: the Vigil instance's input limit plus room for the envelope. */
  bodyLimitBytes?: number;
  /** pino logger options, or false. Default: info level, pretty when stderr is a TTY. */
  logger?: FastifyServerOptions['logger'];
  /** How long close() lets running attempts finish. Default 30 s. */
  drainMs?: number;
}

export interface VigilServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly worker: Worker | null;
  /** Open live streams (SSE) right now: 0 once every client has left. */
  readonly liveStreams: number;
  /** Stops accepting, ends live streams, drains the worker (if this server started one). */
  close(options?: { drainMs?: number }): Promise<void>;
}

const DEFAULT_PORT = 7070;

export function defaultLogger(): FastifyServerOptions['logger'] {
  const level = process.env.VIGIL_LOG_LEVEL ?? 'info';
  return process.stderr.isTTY
    ? { level, transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
    : // Buffered, written off the request path: stderr to a pipe is synchronous on Linux, and a reader that falls
      // behind (a busy log shipper) would otherwise stall every request behind a full pipe.
      { level, stream: pino.destination({ dest: 2, sync: false }) };
}

export async function startServer(options: Omit<ServeOptions, 'worker'> & { vigil: Vigil; store: Store; worker: Worker | null }): Promise<VigilServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? (process.env.VIGIL_TOKEN || undefined);
  checkBind(host, token);
  const { app, ctx } = await buildApp({
    vigil: options.vigil,
    store: options.store,
    worker: options.worker,
    token,
    limits: options.queueLimit ?? {},
    pollMs: options.pollMs ?? 250,
    bodyLimitBytes: options.bodyLimitBytes ?? options.vigil.maxInputBytes + 64 * 1024,
    logger: options.logger ?? defaultLogger(),
    version: packageVersion(),
  });
  try {
    await warmUp(app, token);
    await app.listen({ host, port: options.port ?? DEFAULT_PORT });
  } catch (err) {
    await app.close();
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    app,
    worker: options.worker,
    get liveStreams() {
      return ctx.streams.size + ctx.feed.listenerCount;
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        await app.close();
        await options.worker?.stop({ drainMs: closeOptions.drainMs ?? options.drainMs });
      })();
      return closing;
    },
  };
}

/**
 * One request per hot route before listening: the first request of a route pays its validator's and serializer's
 * first compilation and JIT (~200 ms measured for POST /api/jobs), which would otherwise land on the first burst
 * and stall every other client. Invalid or unknown inputs only: nothing is stored.
 */
async function warmUp(app: FastifyInstance, token: string | undefined): Promise<void> {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  // A valid shape with a task name no tasks module can hold: validation runs to the end, nothing is stored.
  for (let i = 0; i < 50; i++) await app.inject({ method: 'POST', url: '/api/jobs', headers, payload: { task: ' warm-up ', input: { i } } });
  await app.inject({ method: 'POST', url: '/api/jobs', headers, payload: [{ task: '' }] });
  await app.inject({ method: 'GET', url: '/api/jobs/0', headers });
  await app.inject({ method: 'GET', url: '/api/jobs?limit=1', headers });
  await app.inject({ method: 'GET', url: '/api/stats', headers });
}

function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vigil' && pkg.version) return pkg.version;
    } catch {
      // not this level
    }
  }
  return '0.0.0';
}
