// The write gate (src/server/write-gate.ts): writes beyond a few per turn of the event loop wait for the next turns,
// in arrival order; reads are never queued behind them. The end-to-end effect (GET /api/stats during a burst of 500
// submits from another process) is test/server-burst.test.ts; this checks the scheduling rule itself, deterministically:
// the requests are handed to the server in one turn, as a poll that found them all readable does.
import assert from 'node:assert/strict';
import http from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { gatedHttpServer, WRITES_PER_TURN } from '../src/server/write-gate.js';

function request(method: string, url: string): [http.IncomingMessage, http.ServerResponse] {
  const req = new http.IncomingMessage(new Socket());
  req.method = method;
  req.url = url;
  return [req, new http.ServerResponse(req)];
}

describe('write gate', () => {
  it(`hands over at most ${WRITES_PER_TURN} writes per turn, each once, oldest first; a read at once`, async () => {
    let turn = 0;
    const seen: Array<{ what: string; turn: number }> = [];
    const server = gatedHttpServer((req) => seen.push({ what: `${req.method} ${req.url}`, turn }));
    const writes = 100;
    for (let i = 0; i < writes; i++) server.emit('request', ...request(i % 3 === 0 ? 'PUT' : 'POST', `/w${i}`));
    server.emit('request', ...request('GET', '/api/stats'));
    assert.equal(seen.length, WRITES_PER_TURN + 1, 'this turn: the first writes and the read');
    assert.equal(seen.at(-1)!.what, 'GET /api/stats', 'the read was handled in the turn it arrived, ahead of 84 waiting writes');
    const turns = Math.ceil(writes / WRITES_PER_TURN);
    for (let t = 1; t <= turns + 1; t++) {
      turn = t;
      await new Promise<void>((r) => setImmediate(r));
    }
    const handled = seen.filter((s) => s.what !== 'GET /api/stats');
    assert.deepEqual(handled.map((s) => s.what), Array.from({ length: writes }, (_, i) => `${i % 3 === 0 ? 'PUT' : 'POST'} /w${i}`), 'every write once, oldest first');
    const perTurn = new Map<number, number>();
    for (const s of handled) perTurn.set(s.turn, (perTurn.get(s.turn) ?? 0) + 1);
    assert.ok(Math.max(...perTurn.values()) <= WRITES_PER_TURN, `at most ${WRITES_PER_TURN} per turn: ${JSON.stringify([...perTurn])}`);
    assert.ok(perTurn.size >= turns, 'the writes were spread over the following turns');
  });

  it('a write that finds the gate idle is handled at once', () => {
    const seen: string[] = [];
    const server = gatedHttpServer((req) => seen.push(req.url!));
    server.emit('request', ...request('POST', '/one'));
    assert.deepEqual(seen, ['/one']);
  });
});
