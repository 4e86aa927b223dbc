import http from 'node:http';

/**
 * Requests that change something (POST, PUT, PATCH, DELETE) handled per turn of the event loop; the rest wait, in
 * arrival order, for the next turns. libuv hands the server every socket that became readable in one poll and Node
 * routes each request in that same turn: a burst of 500 submits from 20 clients was measured as one 72–106 ms turn
 * of 230–320 requests, and a GET /api/stats that arrived meanwhile waited for all of it.
 */
export const WRITES_PER_TURN = 16;

/** Reads are cheap, and they are how an operator watches a flood: never queued behind one. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * An HTTP server that bounds the work a flood of submits does in one turn of the event loop. Reads go straight to
 * `handler`; writes beyond WRITES_PER_TURN in a turn are deferred (their bodies stay buffered in their sockets) and
 * handed over WRITES_PER_TURN per turn, oldest first. Nothing is refused here: the queue limit (429) is admission's.
 */
export function gatedHttpServer(handler: http.RequestListener): http.Server {
  const waiting: Array<[http.IncomingMessage, http.ServerResponse]> = [];
  let budget = WRITES_PER_TURN;
  let scheduled = false;
  const nextTurn = (): void => {
    scheduled = false;
    budget = WRITES_PER_TURN;
    while (budget > 0 && waiting.length) {
      budget--;
      const [req, res] = waiting.shift()!;
      handler(req, res);
    }
    if (waiting.length || budget < WRITES_PER_TURN) schedule();
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(nextTurn);
  };
  return http.createServer((req, res) => {
    if (READS.has(req.method ?? '')) return handler(req, res);
    if (budget > 0 && waiting.length === 0) {
      budget--;
      schedule();
      return handler(req, res);
    }
    waiting.push([req, res]);
    schedule();
  });
}
