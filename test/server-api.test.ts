// The HTTP API against a real server on loopback: every route, every error code, SSE resume with Last-Event-ID.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Vigil } from '../src/index.js';
import type { VigilServer } from '../src/server/server.js';
import type { JobEvent } from '../src/store/contract.js';
import type { Job } from '../src/types.js';
import { until } from './helpers/engine.js';
import { openSse, type SseEvent } from './helpers/sse.js';
import { storeFactories, type StoreLocation } from './helpers/stores.js';
import { CLI } from './helpers/cli.js';

const TASKS = resolve('test/fixtures/server-tasks.ts');
const POLL_MS = 250;

interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

async function call<T = unknown>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

type ErrorAnswer = { error: { code: string; message: string; status: number } };

function assertError(a: Answer, status: number, code: string): void {
  assert.equal(a.status, status, `expected ${status} ${code}, got ${a.status} ${JSON.stringify(a.body)}`);
  const e = (a.body as ErrorAnswer).error;
  assert.equal(e.code, code);
  assert.equal(e.status, status);
  assert.ok(e.message.length > 10, 'the message says what is wrong');
}

for (const factory of storeFactories()) {
if (factory.skip) console.log(`\n*** job server API: the ${factory.name.toUpperCase()} half is SKIPPED (${factory.skip}) ***\n`);
describe(`job server API: ${factory.name}`, { skip: factory.skip || undefined }, () => {
  let loc: StoreLocation;
  let vigil: Vigil;
  let server: VigilServer;
  let base: string;

  before(async () => {
    if (!existsSync(resolve('dist/dashboard/app.js'))) execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' });
    loc = await factory.create();
    vigil = await Vigil.open({ store: loc.url, tasks: TASKS, maxPayloadBytes: 50_000 });
    server = await vigil.serve({ port: 0, logger: false, pollMs: POLL_MS, bodyLimitBytes: 100_000, worker: { concurrency: 4, pollMs: 50 } });
    base = server.url;
  });
  after(async () => {
    await server?.close({ drainMs: 0 });
    await vigil?.close();
    await loc?.cleanup();
  });

  async function waitState(id: string, states: string[], ms = 15_000): Promise<Job> {
    return until(`job ${id} in ${states.join('/')}`, ms, async () => {
      const j = (await call<{ job: Job }>(base, 'GET', `/api/jobs/${id}`)).body.job;
      return states.includes(j.state) ? j : undefined;
    });
  }

  it('POST /api/jobs: 201 with the job; the job runs', async () => {
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: { hello: 'world' }, priority: 3 });
    assert.equal(a.status, 201);
    assert.equal(a.body.task, 'echo');
    assert.equal(a.body.priority, 3);
    const done = await waitState(a.body.id, ['succeeded']);
    assert.deepEqual(done.result, { hello: 'world' });
  });

  it('POST /api/jobs: an idempotency key repeated gives 200 with the first job, never a duplicate', async () => {
    const first = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: 1, key: 'k-1' });
    const again = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: 2, key: 'k-1' });
    assert.equal(first.status, 201);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body.input, 1);
  });

  it('GET /api/jobs/:id/why: the same answer as vigil.why(), from the job server', async () => {
    // Delayed an hour: the answer is the wait for its run time, and nothing else has to happen for it.
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: 'later', delay: '1h' });
    const why = await call<{ jobId: string; state: string; code: string; summary: string }>(base, 'GET', `/api/jobs/${a.body.id}/why`);
    assert.equal(why.status, 200);
    assert.equal(why.body.jobId, a.body.id);
    assert.equal(why.body.state, 'queued');
    assert.deepEqual({ code: why.body.code, summary: why.body.summary }, await vigil.why(a.body.id).then((w) => ({ code: w.code, summary: w.summary })));
    assert.ok(why.body.summary.length > 10, 'the answer is said in words');
    await call(base, 'POST', `/api/jobs/${a.body.id}/cancel`);
  });

  it('POST /api/jobs: an array, and a delay', async () => {
    const a = await call<Job[]>(base, 'POST', '/api/jobs', [{ task: 'echo', input: 'a' }, { task: 'echo', input: 'b', delay: '1h' }]);
    assert.equal(a.status, 201);
    assert.equal(a.body.length, 2);
    assert.ok(a.body[1]!.runAt - a.body[1]!.createdAt >= 3_600_000 - 10);
    await call(base, 'POST', `/api/jobs/${a.body[1]!.id}/cancel`);
  });

  it('400: invalid body, unknown task, bad duration, bad id, bad query — nothing stored', async () => {
    const before = (await call<{ jobs: Job[] }>(base, 'GET', '/api/jobs?limit=500')).body.jobs.length;
    assertError(await call(base, 'POST', '/api/jobs', { input: 1 }), 400, 'VIGIL_INVALID_INPUT');
    assertError(await call(base, 'POST', '/api/jobs', { task: 'echo', extra: 1 }), 400, 'VIGIL_INVALID_INPUT');
    assertError(await call(base, 'POST', '/api/jobs', { task: 'echo', priority: 'high' }), 400, 'VIGIL_INVALID_INPUT');
    assertError(await call(base, 'POST', '/api/jobs', '{"task": "echo",'), 400, 'VIGIL_INVALID_INPUT');
    const unknown = await call(base, 'POST', '/api/jobs', { task: 'no-such-task' });
    assertError(unknown, 400, 'VIGIL_UNKNOWN_TASK');
    assert.match((unknown.body as ErrorAnswer).error.message, /no-such-task/);
    assertError(await call(base, 'POST', '/api/jobs', { task: 'echo', delay: 'soon' }), 400, 'VIGIL_INVALID_DURATION');
    assertError(await call(base, 'GET', '/api/jobs/abc'), 400, 'VIGIL_INVALID_INPUT');
    assertError(await call(base, 'GET', '/api/jobs?state=lost'), 400, 'VIGIL_INVALID_INPUT');
    assertError(await call(base, 'GET', '/api/jobs?limit=0'), 400, 'VIGIL_INVALID_INPUT');
    assertError(await call(base, 'GET', '/api/events?job=x'), 400, 'VIGIL_INVALID_INPUT');
    const afterCount = (await call<{ jobs: Job[] }>(base, 'GET', '/api/jobs?limit=500')).body.jobs.length;
    assert.equal(afterCount, before, 'no job was stored by a rejected submit');
  });

  it('413: a body over the limit, and an input over the input limit', async () => {
    assertError(await call(base, 'POST', '/api/jobs', { task: 'echo', input: 'x'.repeat(200_000) }), 413, 'VIGIL_PAYLOAD_TOO_LARGE');
    assertError(await call(base, 'POST', '/api/jobs', { task: 'echo', input: 'x'.repeat(60_000) }), 413, 'VIGIL_PAYLOAD_TOO_LARGE');
  });

  it('415: a body that is not JSON', async () => {
    assertError(await call(base, 'POST', '/api/jobs', 'task=echo', { 'content-type': 'text/plain' }), 415, 'VIGIL_UNSUPPORTED_MEDIA_TYPE');
  });

  it('404: unknown job on every job route, unknown route', async () => {
    for (const [method, path] of [
      ['GET', '/api/jobs/999999'],
      ['GET', '/api/jobs/999999/logs'],
      ['GET', '/api/jobs/999999/logs?follow=1'],
      ['POST', '/api/jobs/999999/cancel'],
      ['POST', '/api/jobs/999999/retry'],
      ['GET', '/api/events?job=999999'],
      ['GET', '/api/jobs/999999/why'],
    ] as const) {
      assertError(await call(base, method, path), 404, 'VIGIL_JOB_NOT_FOUND');
    }
    assertError(await call(base, 'GET', '/api/nothing'), 404, 'VIGIL_ROUTE_NOT_FOUND');
  });

  it('retry: 409 for a job that is not failed/cancelled, 200 for a failed one', async () => {
    const ok = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: 1 });
    await waitState(ok.body.id, ['succeeded']);
    assertError(await call(base, 'POST', `/api/jobs/${ok.body.id}/retry`), 409, 'VIGIL_INVALID_STATE');
    const bad = await call<Job>(base, 'POST', '/api/jobs', { task: 'fails' });
    const failed = await waitState(bad.body.id, ['failed']);
    assert.match(failed.error!.message, /can never succeed/);
    const retried = await call<Job>(base, 'POST', `/api/jobs/${bad.body.id}/retry`);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.state, 'queued');
    await waitState(bad.body.id, ['failed']);
  });

  it('cancel: a running job is cancelled', async () => {
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'forever' });
    await waitState(a.body.id, ['running']);
    const c = await call<Job>(base, 'POST', `/api/jobs/${a.body.id}/cancel`);
    assert.equal(c.status, 200);
    const done = await waitState(a.body.id, ['cancelled']);
    assert.equal(done.state, 'cancelled');
  });

  it('GET /api/jobs: filters and cursor paging visit every job once', async () => {
    const made = await call<Job[]>(base, 'POST', '/api/jobs', Array.from({ length: 7 }, (_, i) => ({ task: 'echo', input: { page: i } })));
    const ids = new Set(made.body.map((j) => j.id));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Answer<{ jobs: Job[]; nextCursor: string | null }> = await call(base, 'GET', `/api/jobs?task=echo&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.jobs.length <= 3);
      seen.push(...page.body.jobs.map((j) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length, 'no job twice');
    for (const id of ids) assert.ok(seen.includes(id), `job ${id} listed`);
    const onlyFailed = await call<{ jobs: Job[] }>(base, 'GET', '/api/jobs?state=failed');
    assert.ok(onlyFailed.body.jobs.every((j) => j.state === 'failed'));
    const top = await call<{ jobs: Job[] }>(base, 'GET', '/api/jobs?parent=none&limit=5');
    assert.ok(top.body.jobs.every((j) => j.parentId === null));
  });

  it('GET /api/jobs/:id: attempts with the hang report, and a children summary', async () => {
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'stuck.brief' });
    await waitState(a.body.id, ['failed'], 20_000);
    const d = await call<{ job: Job; attempts: Array<{ outcome: string; hangReport: { where: { stack?: Array<{ functionName: string; line: number }> } } | null }>; children: { counts: Record<string, number>; jobs: Job[] } }>(
      base,
      'GET',
      `/api/jobs/${a.body.id}`,
    );
    assert.equal(d.status, 200);
    assert.equal(d.body.job.error?.kind, 'timeout');
    assert.equal(d.body.attempts.length, 1);
    assert.equal(d.body.attempts[0]!.outcome, 'timeout');
    // What the report says is forensics' business (test/hang-reports.test.ts, and the browser test checks the
    // function and line on the page); here: the API returns it with the attempt.
    const report = d.body.attempts[0]!.hangReport;
    assert.ok(report, 'the attempt carries its hang report');
    assert.equal((report as unknown as { kind: string }).kind, 'timeout');
    assert.deepEqual(d.body.children, { counts: { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }, jobs: [] });
  });

  it('GET /api/jobs/:id/logs: JSON lines, tail, and an SSE follow that resumes with Last-Event-ID', async () => {
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'sleepy', input: { ms: 1500, lines: 6 } });
    const s1 = await openSse(`${base}/api/jobs/${a.body.id}/logs?follow=1`);
    assert.equal(s1.status, 200);
    const firstTwo = [await s1.next(), await s1.next()];
    s1.close();
    assert.deepEqual(firstTwo.map((e) => (e!.data as { line: string }).line), ['line 0', 'line 1']);
    const s2 = await openSse(`${base}/api/jobs/${a.body.id}/logs?follow=1`, { 'last-event-id': firstTwo[1]!.id! });
    const rest = await s2.collect((e) => e.event === 'end', 15_000);
    const lines = rest.filter((e) => e.event === 'log').map((e) => (e.data as { line: string }).line);
    assert.deepEqual(lines, ['line 2', 'line 3', 'line 4', 'line 5'], 'resumed exactly after the last line seen');
    assert.deepEqual(rest.at(-1)!.data, { jobId: a.body.id, state: 'succeeded' });
    const json = await call<{ lines: Array<{ line: string }> }>(base, 'GET', `/api/jobs/${a.body.id}/logs?tail=1&limit=2`);
    assert.deepEqual(json.body.lines.map((l) => l.line), ['line 4', 'line 5']);
    await until('log streams released', 2_000, () => server.liveStreams === 0);
  });

  it('GET /api/events: every state change once, in order, across a reconnect with Last-Event-ID, including other processes', async () => {
    const start = await vigil.store.lastEventSeq();
    const s1 = await openSse(`${base}/api/events`, { 'last-event-id': String(start) });
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: 'x' });
    const part1 = await s1.collect((e) => (e.data as JobEvent).jobId === a.body.id && (e.data as JobEvent).state === 'succeeded', 10_000);
    s1.close();
    // While disconnected: jobs change, also through another store connection (what another process does).
    const other = await loc.open();
    const b = await call<Job>(base, 'POST', '/api/jobs', { task: 'echo', input: 'y' });
    await waitState(b.body.id, ['succeeded']);
    const lastSeen = part1.at(-1)!.id!;
    const s2 = await openSse(`${base}/api/events`, { 'last-event-id': lastSeen });
    const part2 = await s2.collect((e) => (e.data as JobEvent).jobId === b.body.id && (e.data as JobEvent).state === 'succeeded', 10_000);
    // Live now: an event written by the other connection arrives within the poll interval. A task this server's
    // worker does not run: nothing in this process touches the job, only the poll can see it.
    const t0 = Date.now();
    const [c] = await other.enqueue([{ task: 'elsewhere', input: 'z', retry: { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 } }]);
    const part3 = await s2.collect((e) => (e.data as JobEvent).jobId === c!.job.id, 5_000);
    const latency = Date.now() - t0;
    s2.close();
    console.log(`# SSE: an event written by another connection arrived after ${latency} ms (poll interval ${POLL_MS} ms)`);
    assert.ok(latency < POLL_MS + 500, `cross-connection event within the poll interval (took ${latency} ms)`);
    const got = [...part1, ...part2, ...part3].map((e: SseEvent) => e.data as JobEvent);
    const seqs = got.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in seq order');
    assert.equal(new Set(seqs).size, seqs.length, 'no event repeated');
    const stored = (await vigil.store.eventsAfter(start, 10_000)).filter((e) => e.seq <= seqs.at(-1)!);
    assert.deepEqual(seqs, stored.map((e) => e.seq), 'no event lost: exactly the stored events');
    assert.deepEqual(got.map((e) => e.id ?? e.seq), got.map((e) => e.seq));
    await until('event streams released', 2_000, () => server.liveStreams === 0);
  });

  it('GET /api/events?job=: ends when the job ends', async () => {
    const a = await call<Job>(base, 'POST', '/api/jobs', { task: 'sleepy', input: { ms: 300 } });
    const s = await openSse(`${base}/api/events?job=${a.body.id}`);
    const events = await s.collect(() => false, 10_000);
    assert.equal(events.at(-1)!.event, 'end');
    assert.deepEqual(events.at(-1)!.data, { jobId: a.body.id, state: 'succeeded' });
    await until('streams released', 2_000, () => server.liveStreams === 0);
  });

  it('GET /api/workers and GET /api/stats', async () => {
    const w = await call<{ workers: Array<{ workerId: string; concurrency: number }> }>(base, 'GET', '/api/workers');
    assert.equal(w.status, 200);
    assert.ok(w.body.workers.some((x) => x.workerId === server.worker!.workerId && x.concurrency === 4));
    const s = await call<{ byState: Record<string, number>; byTask: Array<{ task: string }>; buckets: unknown[]; oldestQueuedAgeMs: number | null }>(base, 'GET', '/api/stats');
    assert.equal(s.status, 200);
    assert.ok(s.body.byState.succeeded! > 0);
    assert.ok(s.body.byTask.some((t) => t.task === 'echo'));
    assert.equal(s.body.buckets.length, 60);
  });

  it('GET /: the dashboard, with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script>(?!<\/script>)|<style|style=|https?:\/\//, 'no inline code, no third-party URL');
    const js = await fetch(`${base}/assets/app.js`);
    assert.equal(js.status, 200);
    assert.doesNotMatch(await js.text(), /https?:\/\/(?!www\.w3\.org)/, 'the bundle loads nothing from elsewhere');
  });

  it('GET /api/openapi.json: generated from the route schemas', async () => {
    const doc = await call<{ openapi: string; paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: { enum?: string[] } }> }>> }>(base, 'GET', '/api/openapi.json');
    assert.equal(doc.status, 200);
    assert.match(doc.body.openapi, /^3\./);
    for (const p of ['/api/jobs', '/api/jobs/{id}', '/api/jobs/{id}/why', '/api/jobs/{id}/logs', '/api/jobs/{id}/cancel', '/api/jobs/{id}/retry', '/api/workers', '/api/stats', '/api/events']) {
      assert.ok(doc.body.paths[p], `documents ${p}`);
    }
    const state = doc.body.paths['/api/jobs']!.get!.parameters!.find((x) => x.name === 'state');
    assert.deepEqual(state!.schema.enum, ['queued', 'running', 'succeeded', 'failed', 'cancelled']);
  });
});

}

describe('job server: queue limits, auth, bind', () => {
  let dir: string;
  let vigil: Vigil;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-server-test-'));
    vigil = await Vigil.open({ store: `sqlite:${join(dir, 'vigil.db')}`, tasks: TASKS });
  });
  after(async () => {
    await vigil?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('429 with Retry-After past the global and the per-task queue limit, nothing stored past it', async () => {
    const server = await vigil.serve({ port: 0, logger: false, worker: false, queueLimit: { total: 3, perTask: { sleepy: 1 }, retryAfterSeconds: 7 } });
    try {
      assert.equal((await call(server.url, 'POST', '/api/jobs', { task: 'sleepy', key: 's1' })).status, 201);
      const perTask = await call(server.url, 'POST', '/api/jobs', { task: 'sleepy' });
      assertError(perTask, 429, 'VIGIL_QUEUE_FULL');
      assert.equal(perTask.headers.get('retry-after'), '7');
      assert.equal((await call(server.url, 'POST', '/api/jobs', { task: 'echo' })).status, 201);
      assert.equal((await call(server.url, 'POST', '/api/jobs', { task: 'echo' })).status, 201);
      const total = await call(server.url, 'POST', '/api/jobs', { task: 'echo' });
      assertError(total, 429, 'VIGIL_QUEUE_FULL');
      assert.equal(total.headers.get('retry-after'), '7');
      assert.equal((await vigil.store.queueDepth('echo')).total, 3, 'nothing stored past the limit');
    } finally {
      await server.close();
    }
  });

  it('the limit follows the queue: jobs that leave it make room again within a moment, and what is admitted counts at once', async () => {
    // A store of its own: the test before leaves queued jobs behind.
    const own = await Vigil.open({ store: `sqlite:${join(dir, 'limit-follows.db')}`, tasks: TASKS });
    const server = await own.serve({ port: 0, logger: false, worker: false, queueLimit: { total: 2 } });
    const ids: string[] = [];
    try {
      for (const key of ['q1', 'q2']) {
        const r = await call<{ id: string }>(server.url, 'POST', '/api/jobs', { task: 'echo', key: `limit-${key}` });
        assert.equal(r.status, 201);
        ids.push(r.body.id);
      }
      assertError(await call(server.url, 'POST', '/api/jobs', { task: 'echo' }), 429, 'VIGIL_QUEUE_FULL');
      await own.cancel(ids[0]!, 'making room');
      const t0 = Date.now();
      let status = 0;
      while (Date.now() - t0 < 5_000 && (status = (await call(server.url, 'POST', '/api/jobs', { task: 'echo' })).status) === 429) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(status, 201, 'room again after a queued job left');
      assert.ok(Date.now() - t0 < 1_000, `admitted ${Date.now() - t0} ms after the job left the queue`);
      assertError(await call(server.url, 'POST', '/api/jobs', { task: 'echo' }), 429, 'VIGIL_QUEUE_FULL');
    } finally {
      await server.close();
      await own.close();
    }
  });

  it('bearer token: 401 without or with a wrong one, 200 with it; the token is never in the logs', async () => {
    const logged: string[] = [];
    const stream = { write: (s: string) => void logged.push(s) };
    const token = 'test-token-0123456789abcdef';
    const server = await vigil.serve({ port: 0, token, worker: false, logger: { level: 'trace', stream } });
    try {
      assertError(await call(server.url, 'GET', '/api/stats'), 401, 'VIGIL_UNAUTHORIZED');
      const wrong = await call(server.url, 'GET', '/api/stats', undefined, { authorization: 'Bearer nope' });
      assertError(wrong, 401, 'VIGIL_UNAUTHORIZED');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /Bearer/);
      assertError(await call(server.url, 'GET', '/api/events'), 401, 'VIGIL_UNAUTHORIZED');
      assert.equal((await call(server.url, 'GET', '/api/stats', undefined, { authorization: `Bearer ${token}` })).status, 200);
      assert.equal((await call(server.url, 'GET', '/api/openapi.json')).status, 200, 'the API description is public');
      // Metrics and readiness carry task names, counts and store health: guarded. Liveness says only "alive".
      assertError(await call(server.url, 'GET', '/readyz'), 401, 'VIGIL_UNAUTHORIZED');
      const metricsDenied = await fetch(`${server.url}/metrics`);
      assert.equal(metricsDenied.status, 401);
      await metricsDenied.body?.cancel();
      assert.equal((await call(server.url, 'GET', '/healthz')).status, 200, 'a liveness probe needs no token');
      assert.equal((await call(server.url, 'GET', '/readyz', undefined, { authorization: `Bearer ${token}` })).status, 200);
      const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^# HELP /m, 'Prometheus text from the same process as the API');
      assert.ok(logged.length > 0);
      assert.ok(!logged.join('\n').includes(token), 'the token never appears in the server log');
    } finally {
      await server.close();
    }
  });

  it('refuses a non-loopback bind without a token, saying what to set', async () => {
    const saved = process.env.VIGIL_TOKEN;
    delete process.env.VIGIL_TOKEN;
    try {
      await assert.rejects(vigil.serve({ host: '0.0.0.0', port: 0, worker: false, logger: false }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VIGIL_USAGE');
        assert.match(err.message, /VIGIL_TOKEN/);
        return true;
      });
    } finally {
      if (saved !== undefined) process.env.VIGIL_TOKEN = saved;
    }
  });

  it('vigil serve (the CLI): exit 2 with what to set, for a public bind without a token and for a worker without --tasks', () => {
    const env = { ...process.env };
    delete env.VIGIL_TOKEN;
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [...CLI, 'serve', '--port', '0', '--store', `sqlite:${join(dir, 'cli.db')}`, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    const open = run('--host', '0.0.0.0', '--no-worker');
    assert.equal(open.status, 2, open.stderr);
    assert.match(open.stderr, /VIGIL_TOKEN/);
    const noTasks = run();
    assert.equal(noTasks.status, 2, noTasks.stderr);
    assert.match(noTasks.stderr, /--tasks/);
  });
});
