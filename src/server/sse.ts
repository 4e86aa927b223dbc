import type { FastifyReply, FastifyRequest } from 'fastify';

/** A comment line this often keeps proxies and idle-timeouts from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

export interface SseStream {
  send(event: { id?: number | string; event?: string; data: unknown }): void;
  /** Ends the stream (the client should not reconnect: it gets an `end` event first). */
  end(data?: unknown): void;
  /** Resolves when the client leaves or end() was called. */
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
}

/**
 * Takes over the raw response for Server-Sent Events. Everything it starts (keepalive timer, close listener) is
 * released when the client leaves or the stream ends, so a departed client leaves nothing behind.
 */
export function openSse(request: FastifyRequest, reply: FastifyReply, headers: Record<string, string> = {}): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  let closed = false;
  let resolveClosed!: () => void;
  const closedPromise = new Promise<void>((r) => (resolveClosed = r));
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    request.raw.off('close', finish);
    res.off('close', finish);
    resolveClosed();
  };
  request.raw.on('close', finish);
  res.on('close', finish);
  // HEAD gets the headers and nothing else: a body-less stream would otherwise hold the connection open forever
  // without ever sending them (found by test/server-fuzz.test.ts).
  if (request.method === 'HEAD') {
    res.end();
    finish();
  }
  return {
    send({ id, event, data }) {
      if (closed) return;
      let text = '';
      if (id !== undefined) text += `id: ${id}\n`;
      if (event) text += `event: ${event}\n`;
      // JSON never contains a raw newline, so one data line is always enough.
      text += `data: ${JSON.stringify(data)}\n\n`;
      res.write(text);
    },
    end(data) {
      if (closed) return;
      res.write(`event: end\ndata: ${JSON.stringify(data ?? {})}\n\n`);
      res.end();
      finish();
    },
    closed: closedPromise,
    get isClosed() {
      return closed;
    },
  };
}

/** The resume point: the Last-Event-ID header, else the `lastEventId` query parameter, else null. */
export function lastEventId(request: FastifyRequest, fromQuery: string | undefined): number | null {
  const header = request.headers['last-event-id'];
  const raw = (Array.isArray(header) ? header[0] : header) ?? fromQuery;
  if (raw === undefined || !/^\d{1,18}$/.test(raw.trim())) return null;
  return Number(raw.trim());
}
