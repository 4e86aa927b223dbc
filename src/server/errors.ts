import { VigilError, errorMessage, type ErrorCode } from '../errors.js';

/**
 * Every error the HTTP API answers with has ONE body shape, `{ error: { code, message, status } }`, where `code` is
 * stable (match on it, never on the message). Codes are Vigil's own (src/errors.ts) plus the few that only exist on
 * the wire.
 */
export type HttpErrorCode =
  | ErrorCode
  | 'VIGIL_QUEUE_FULL'
  | 'VIGIL_UNAUTHORIZED'
  | 'VIGIL_ROUTE_NOT_FOUND'
  | 'VIGIL_UNSUPPORTED_MEDIA_TYPE';

export interface ErrorBody {
  error: { code: HttpErrorCode; message: string; status: number };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  VIGIL_INVALID_INPUT: 400,
  VIGIL_UNKNOWN_TASK: 400,
  VIGIL_INVALID_DURATION: 400,
  VIGIL_USAGE: 400,
  VIGIL_JOB_NOT_FOUND: 404,
  VIGIL_INVALID_STATE: 409,
  VIGIL_PAYLOAD_TOO_LARGE: 413,
  VIGIL_STORE_UNAVAILABLE: 503,
  VIGIL_CLOSED: 503,
  VIGIL_SNAPSHOT_TIMEOUT: 504,
};

/** Fastify's own errors (validation, body parsing, limits) mapped onto ours by their status. */
interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  validation?: unknown;
  message?: string;
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof VigilError) {
    return new HttpError(STATUS_BY_CODE[err.code] ?? 500, err.code, err.message, {}, { cause: err });
  }
  const f = (err ?? {}) as FastifyLikeError;
  const message = errorMessage(err);
  if (f.validation) return new HttpError(400, 'VIGIL_INVALID_INPUT', `invalid request: ${message}`, {}, { cause: err });
  switch (f.statusCode) {
    case 413:
      return new HttpError(413, 'VIGIL_PAYLOAD_TOO_LARGE', `${message} (send a smaller body: pass a file path or URL instead of the data)`, {}, { cause: err });
    case 415:
      return new HttpError(415, 'VIGIL_UNSUPPORTED_MEDIA_TYPE', `${message} (send JSON with "Content-Type: application/json")`, {}, { cause: err });
    case 400:
      return new HttpError(400, 'VIGIL_INVALID_INPUT', message, {}, { cause: err });
    case 414:
      // The router refuses a path segment over its length limit (an id is never that long).
      return new HttpError(414, 'VIGIL_INVALID_INPUT', `${message} (a job id is a short string; check the URL)`, {}, { cause: err });
    default:
      // Any other refusal of the request itself stays the client's error: never a 500 for what the caller sent.
      if (f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500) {
        return new HttpError(f.statusCode, 'VIGIL_INVALID_INPUT', message, {}, { cause: err });
      }
      return new HttpError(500, 'VIGIL_INTERNAL', `internal error: ${message}`, {}, { cause: err });
  }
}

/** An error answer without an Error object (no stack to capture), for answers a burst may give hundreds of times. */
export interface ErrorAnswer {
  status: number;
  code: HttpErrorCode;
  message: string;
  headers: Record<string, string>;
}

export function errorBody(e: HttpError | ErrorAnswer): ErrorBody {
  return { error: { code: e.code, message: e.message, status: e.status } };
}

/**
 * Requests Node's HTTP parser refuses (bad framing, a lying Content-Length, oversized headers, a request that never
 * finishes) never reach a route: answer them with the same error shape, then close, as Node itself would.
 * A HEAD request gets the headers alone: its client reads no body, so body bytes after the head are, to it, garbage
 * after `Connection: close` (node:http fails the request with a parse error instead of reporting the 431).
 */
export function clientErrorResponse(err: { code?: string; rawPacket?: unknown }): string {
  const [status, reason, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'the request was not received in time; send it again']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are too large; send fewer or shorter headers']
        : [400, 'Bad Request', `malformed HTTP request (${err.code ?? 'parse error'}): check Content-Length, Transfer-Encoding and the request line`];
  const body = JSON.stringify(errorBody(new HttpError(status, 'VIGIL_INVALID_INPUT', message)));
  const head = `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n`;
  return refusedHead(err.rawPacket) ? head : head + body;
}

/**
 * Whether the refused bytes are a HEAD request. The parser does not say which method it had read when it gave up;
 * `rawPacket` is the chunk it was reading, which on a connection starts with the request line (a client writes its
 * next request after the last answer). A chunk that starts mid-request says nothing: it is answered with a body.
 */
function refusedHead(rawPacket: unknown): boolean {
  if (!Buffer.isBuffer(rawPacket)) return false;
  let i = 0;
  // RFC 9112 §2.2: a server should ignore at least one empty line before the request line.
  while (i < rawPacket.length && (rawPacket[i] === 0x0d || rawPacket[i] === 0x0a)) i++;
  return rawPacket.subarray(i, i + 5).toString('latin1') === 'HEAD ';
}
