// Six clients submitting at once froze the systems Vigil replaces. Here: 500 concurrent submits from 20 clients
// against a queue limit of 200. Every answer is 201, 200 or 429; every accepted id exists; the server keeps
// answering GET /api/stats in under 100 ms throughout (measured and printed).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { Store } from '../src/store/contract.js';
import { openStore } from '../src/store/open.js';
import { startServeProcess, type ServeProcess } from './helpers/serve-process.js';

const CLIENTS = 20;
const PER_CLIENT = 25;
const LIMIT = 200;
const STATS_BOUND_MS = 100;

const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () => new Promise((resolve, reject) => {
  http.get(workerData.url, { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }).on('error', reject);
});
let stop = false;
parentPort.on('message', () => { stop = true; });
(async () => {
  await get(); // warm-up: first-request compilation is not what this measures
  parentPort.postMessage('ready');
  const times = [], statuses = [];
  while (!stop) {
    const t0 = performance.now();
    statuses.push(await get());
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  parentPort.postMessage({ times, statuses });
})();
`;

function request(agent: http.Agent, url: string, method: string, body?: unknown): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolvePromise, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(url, { method, agent, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: text, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

describe('job server under a submit burst', () => {
  let dir: string;
  let server: ServeProcess;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-burst-'));
    const url = `sqlite:${join(dir, 'vigil.db')}`;
    // A real server process; no worker, so the queue only fills and the limit is really reached.
    server = await startServeProcess(['--no-worker', '--queue-limit', String(LIMIT), '--tasks', resolve('test/fixtures/server-tasks.ts'), '--store', url]);
    store = await openStore(url);
  });
  after(async () => {
    await server?.stop();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${CLIENTS * PER_CLIENT} concurrent submits from ${CLIENTS} clients, queue limit ${LIMIT}`, async () => {
    // The prober has its own thread: its clock must not include the 500 clients' work on this thread.
    const prober = new Worker(PROBER, { eval: true, workerData: { url: `${server.url}/api/stats` } });
    await new Promise((r) => prober.once('message', r)); // warmed up and probing
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: PER_CLIENT });
        try {
          return await Promise.all(
            Array.from({ length: PER_CLIENT }, (_, i) =>
              // Every fifth submit repeats a key of its client: those answer 200 with the first job (or 429).
              request(agent, `${server.url}/api/jobs`, 'POST', { task: 'echo', input: { c, i }, ...(i % 5 === 4 ? { key: `c${c}-k${i - 1}` } : i % 5 === 3 ? { key: `c${c}-k${i}` } : {}) }),
            ),
          );
        } finally {
          agent.destroy();
        }
      }),
    );
    const burstMs = performance.now() - t0;
    prober.postMessage('stop');
    const { times: statsTimes, statuses } = (await new Promise((r) => prober.once('message', r))) as { times: number[]; statuses: number[] };
    await prober.terminate();
    assert.ok(statuses.every((s) => s === 200), 'every stats call answered 200');

    const flat = answers.flat();
    const byStatus = new Map<number, number>();
    for (const a of flat) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    const sorted = [...statsTimes].sort((a, b) => a - b);
    const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    console.log(
      `# burst: ${flat.length} submits in ${burstMs.toFixed(0)} ms; answers ${JSON.stringify(Object.fromEntries(byStatus))}; ` +
        `GET /api/stats during the burst: ${statsTimes.length} calls, median ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    );
    assert.deepEqual([...byStatus.keys()].filter((s) => ![200, 201, 429].includes(s)), [], 'only 201, 200 and 429');
    assert.ok((byStatus.get(429) ?? 0) > 0, 'the limit was reached');
    for (const a of flat.filter((x) => x.status === 429)) {
      assert.equal(JSON.parse(a.body).error.code, 'VIGIL_QUEUE_FULL');
      assert.ok(Number(a.retryAfter) >= 1, 'a 429 says when to retry');
    }
    const accepted = flat.filter((a) => a.status === 201 || a.status === 200).map((a) => JSON.parse(a.body) as { id: string });
    const ids = [...new Set(accepted.map((j) => j.id))];
    const stored = await store.getMany(ids);
    assert.equal(stored.length, ids.length, 'every accepted id exists in the store');
    const depth = await store.queueDepth('echo');
    assert.equal(depth.total, ids.length, 'nothing stored that was not accepted');
    assert.ok(depth.total <= LIMIT, `the queue never passed its limit (${depth.total})`);
    assert.ok(statsTimes.length >= 3, 'stats was probed during the burst');
    assert.ok(sorted.at(-1)! < STATS_BOUND_MS, `GET /api/stats answered in under ${STATS_BOUND_MS} ms during the burst (max ${sorted.at(-1)!.toFixed(1)} ms)`);
  });
});
