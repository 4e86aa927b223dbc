import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { errorBody, HttpError } from './errors.js';

/**
 * The dashboard's files, bundled at build time (scripts/build-dashboard.mjs) into dist/dashboard. Found from this
 * module's URL both when running from src/ (tsx) and from dist/src/.
 */
export function dashboardDir(): string | null {
  for (const rel of ['../../dist/dashboard/', '../../dashboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

// No inline script or style anywhere, no third party: the CSP can forbid everything else.
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export function registerDashboard(app: FastifyInstance): void {
  const dir = dashboardDir();
  const load = (name: string): Buffer | null => (dir ? readFileSync(`${dir}${name}`) : null);
  // Read once: the bundle does not change while the server runs.
  const index = load('index.html');
  const assets = new Map(Object.keys(FILES).map((f) => [f, load(f)]));
  const securityHeaders = {
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  const page = async (_req: unknown, reply: import('fastify').FastifyReply): Promise<void> => {
    reply.headers(securityHeaders);
    if (!index) {
      reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run "npm run build" (it bundles src/dashboard into dist/dashboard).');
      return;
    }
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
  };
  app.get('/', { schema: { hide: true } }, page);
  // Client-side routes (#/jobs/1 needs none, but a reload of /jobs/1 should still land on the app).
  app.get('/jobs/*', { schema: { hide: true } }, page);
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const body = assets.get(request.params.file);
    if (!body) {
      const e = new HttpError(404, 'VIGIL_ROUTE_NOT_FOUND', `no dashboard asset ${JSON.stringify(request.params.file).slice(0, 200)} (the dashboard is served at /)`);
      reply.code(404).headers(securityHeaders).send(errorBody(e));
      return;
    }
    reply.headers(securityHeaders).type(FILES[request.params.file]!).header('cache-control', 'no-cache').send(body);
  });
}
