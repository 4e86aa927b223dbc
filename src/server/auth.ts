import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { UsageError } from '../errors.js';
import { HttpError } from './errors.js';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Anyone who can reach a non-loopback address could run and cancel jobs: refuse to start without a token. */
export function checkBind(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new UsageError(
      'VIGIL_USAGE',
      `refusing to listen on ${host} without a token: set VIGIL_TOKEN to a long random secret (clients then send "Authorization: Bearer <token>"), or bind 127.0.0.1`,
    );
  }
}

// Hashing both sides first gives equal lengths, so the comparison time says nothing about the token.
const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Bearer auth on /api/*, /metrics and /readyz (task names, counts and store health are data too). Left open: the
 * dashboard's static files (they carry no data; the dashboard asks for the token), the OpenAPI document, and
 * /healthz (a liveness probe says only "this process answers"). The reasons are in SECURITY.md;
 * test/server-fuzz.test.ts checks that no other path answers data without the token.
 */
export function registerAuth(app: FastifyInstance, token: string | undefined): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    const guarded = (path.startsWith('/api/') && path !== '/api/openapi.json') || path === '/metrics' || path === '/readyz';
    if (!guarded) return;
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
      throw new HttpError(401, 'VIGIL_UNAUTHORIZED', 'missing or wrong bearer token: send "Authorization: Bearer $VIGIL_TOKEN"', {
        'www-authenticate': 'Bearer realm="vigil"',
      });
    }
  });
}
