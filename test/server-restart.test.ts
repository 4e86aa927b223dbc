// A restart must not lose or double a job: jobs submitted over HTTP, the server SIGKILLed mid-run (with its
// executors: the whole process group), started again on the same store. Every job ends; none succeeds twice.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Attempt, Job } from '../src/types.js';
import { until } from './helpers/engine.js';
import { startServeProcess, type ServeProcess } from './helpers/serve-process.js';

const JOBS = 12;

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(base + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
  return (await res.json()) as T;
}

describe('job server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-restart-'));
  const store = `sqlite:${join(dir, 'vigil.db')}`;
  const args = ['--tasks', resolve('test/fixtures/server-tasks.ts'), '--store', store, '--concurrency', '4', '--lease', '2s'];
  const servers: ServeProcess[] = [];
  after(async () => {
    for (const s of servers) await s.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGKILL mid-run, start again: every job ends, none twice succeeded', async () => {
    const first = await startServeProcess(args);
    servers.push(first);
    const submitted = await api<Job[]>(first.url, 'POST', '/api/jobs', Array.from({ length: JOBS }, (_, i) => ({ task: 'sleepy', input: { ms: 1500, lines: 3 }, key: `restart-${i}` })));
    assert.equal(submitted.length, JOBS);
    await until('some jobs running', 30_000, async () => {
      const page = await api<{ jobs: Job[] }>(first.url, 'GET', '/api/jobs?state=running&task=sleepy');
      return page.jobs.length >= 2;
    });
    await first.kill('SIGKILL');
    const killedAt = Date.now();

    const second = await startServeProcess(args);
    servers.push(second);
    // Resubmitting with the same keys after the restart is the client's natural retry: it must not add jobs.
    const again = await api<Job[]>(second.url, 'POST', '/api/jobs', Array.from({ length: JOBS }, (_, i) => ({ task: 'sleepy', input: { ms: 1500, lines: 3 }, key: `restart-${i}` })));
    assert.deepEqual(again.map((j) => j.id), submitted.map((j) => j.id));
    const ended = await until('every job ended', 60_000, async () => {
      const jobs = await Promise.all(submitted.map((j) => api<{ job: Job; attempts: Attempt[] }>(second.url, 'GET', `/api/jobs/${j.id}`)));
      return jobs.every((d) => ['succeeded', 'failed', 'cancelled'].includes(d.job.state)) ? jobs : undefined;
    });
    console.log(`# restart: all ${JOBS} jobs ended ${Date.now() - killedAt} ms after the SIGKILL`);
    for (const d of ended) {
      assert.equal(d.job.state, 'succeeded', `job ${d.job.id} succeeded`);
      const wins = d.attempts.filter((a) => a.outcome === 'succeeded');
      assert.equal(wins.length, 1, `job ${d.job.id} succeeded exactly once (attempts: ${d.attempts.map((a) => a.outcome).join(', ')})`);
    }
    const interrupted = ended.filter((d) => d.attempts.some((a) => a.outcome === 'crashed'));
    assert.ok(interrupted.length >= 2, 'the kill really interrupted running attempts (they were recovered as crashed)');
    assert.equal(await second.stop(), 0, 'SIGTERM drains and exits 0');
  });
});
