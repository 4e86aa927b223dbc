// `vigil inspect <id> --now` and POST /api/jobs/:id/snapshot: a hang report of a running attempt taken by the
// worker that holds its lease, WITHOUT stopping it, stored on the attempt. Real worker process, real busy loops,
// the built CLI (run `npm run build` first), both stores.
import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Vigil, type AttemptSnapshot, type Job, type VigilServer } from '../src/index.js';
import { exited, runCli, startCli } from './helpers/cli.js';
import { until } from './helpers/engine.js';
import { storeFactories, type StoreLocation } from './helpers/stores.js';

const TASKS = resolve('test/fixtures/snapshot-tasks.ts');

for (const factory of storeFactories()) {
  if (factory.skip) console.log(`\n*** snapshots: the ${factory.name.toUpperCase()} half is SKIPPED (${factory.skip}) ***\n`);
  describe(`inspect --now / snapshots: ${factory.name}`, { skip: factory.skip || undefined, concurrency: 1 }, () => {
    let loc: StoreLocation;
    let vigil: Vigil;
    let server: VigilServer;
    let worker: ReturnType<typeof startCli>;

    before(async () => {
      loc = await factory.create();
      worker = startCli(['worker', '--tasks', TASKS, '--store', loc.url, '--concurrency', '3']);
      vigil = await Vigil.open({ store: loc.url, tasks: TASKS });
      // The API process runs no worker: the snapshot must come from the worker process, through the store.
      server = await vigil.serve({ port: 0, logger: false, worker: false });
    });
    after(async () => {
      await server?.close({ drainMs: 0 });
      await vigil?.close();
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGTERM');
      await exited(worker, 20_000);
      await loc?.cleanup();
    });

    async function spinning(task: string, line: string): Promise<string> {
      const job = await vigil.submit(task, null);
      // In the spinning function: its first line is printed just before the loop.
      await until(`job ${job.id} spinning`, 20_000, async () => (await vigil.logs(job.id)).some((l) => l.line === line));
      return job.id;
    }

    async function post(path: string): Promise<{ status: number; body: unknown }> {
      const res = await fetch(`${server.url}${path}`, { method: 'POST' });
      return { status: res.status, body: await res.json() };
    }

    async function stillRunning(id: string): Promise<void> {
      const job = await vigil.get(id);
      assert.equal(job.state, 'running', 'the job keeps running');
      assert.equal(job.cancelRequested, false);
      const attempts = await vigil.attempts(id);
      assert.equal(attempts.length, 1, 'the same attempt: nothing was stopped or retried');
      assert.equal(attempts[0]!.finishedAt, null);
      assert.equal(attempts[0]!.hangReport, null);
    }

    async function cancelled(id: string): Promise<Job> {
      await vigil.cancel(id, 'test over');
      return until(`job ${id} cancelled`, 20_000, async () => {
        const j = await vigil.get(id);
        return j.state === 'cancelled' ? j : undefined;
      });
    }

    for (const [task, fn, line] of [
      ['snap.thread', 'spinInThread', 'spinning in a thread'],
      ['snap.process', 'spinInProcess', 'spinning in a process'],
    ] as const) {
      test(`${task}: inspect --now names ${fn} with file:line, the job keeps running; the API takes a later one`, async () => {
        const id = await spinning(task, line);
        try {
          const r = await runCli(['inspect', id, '--now', '--store', loc.url]);
          assert.equal(r.code, 0, r.output);
          assert.match(r.output, /^Right now: attempt 1, running for [\d.]+m?s \(taken in [\d.]+m?s, nothing stopped\)$/m);
          assert.match(r.output, new RegExp(`^\\s+at ${fn} \\(.*snapshot-tasks\\.ts:\\d+:\\d+\\)$`, 'm'));
          assert.match(r.output, /taken on request: the attempt kept running; nothing was stopped/);
          console.log(`# ${factory.name} ${task}: inspect --now took ${r.ms} ms (CLI start included)`);
          await stillRunning(id);
          const stored = (await vigil.attempts(id))[0]!.snapshot as AttemptSnapshot;
          assert.ok(stored, 'stored on the attempt');
          assert.equal(stored.where.stack?.[0]?.functionName, fn);

          // The API equivalent, answered by the same worker: a newer snapshot of the same, still running attempt.
          const started = Date.now();
          const api = await post(`/api/jobs/${id}/snapshot`);
          const apiMs = Date.now() - started;
          assert.equal(api.status, 200, JSON.stringify(api.body));
          const body = api.body as { jobId: string; attempt: number; snapshot: AttemptSnapshot };
          assert.equal(body.jobId, id);
          assert.equal(body.attempt, 1);
          assert.equal(body.snapshot.where.stack?.[0]?.functionName, fn);
          assert.ok(body.snapshot.elapsedMs > stored.elapsedMs, 'the attempt kept running between the two snapshots');
          console.log(`# ${factory.name} ${task}: POST /snapshot answered in ${apiMs} ms`);
          await stillRunning(id);
          const detail = (await (await fetch(`${server.url}/api/jobs/${id}`)).json()) as { attempts: Array<{ snapshot: AttemptSnapshot | null }> };
          assert.equal(detail.attempts[0]!.snapshot?.capturedAt, body.snapshot.capturedAt, 'GET /api/jobs/:id shows the latest snapshot');
          const plain = await runCli(['inspect', id, '--store', loc.url]);
          assert.match(plain.output, /^\s+Snapshot taken \S+: attempt 1, running for/m, 'inspect shows the stored snapshot');
        } finally {
          await cancelled(id);
        }
      });
    }

    test('a job that is not running: exit 2 / 409; an unknown id: 404', async () => {
      const job = await vigil.submit('snap.quick', null);
      await until(`job ${job.id} done`, 20_000, async () => (await vigil.get(job.id)).state === 'succeeded');
      const r = await runCli(['inspect', job.id, '--now', '--store', loc.url]);
      assert.equal(r.code, 2, r.output);
      assert.match(r.output, new RegExp(`^vigil: job ${job.id} is succeeded: only a running job has an attempt to look inside`, 'm'));
      const api = await post(`/api/jobs/${job.id}/snapshot`);
      assert.equal(api.status, 409);
      assert.equal((api.body as { error: { code: string } }).error.code, 'VIGIL_INVALID_STATE');
      const unknown = await post('/api/jobs/999999/snapshot');
      assert.equal(unknown.status, 404);
      assert.equal((await vigil.attempts(job.id))[0]!.snapshot, null, 'nothing stored');
    });

    // Last: it kills the worker.
    test('no worker answers (its worker was SIGKILLed, the lease not yet expired): 504 / exit 1, saying so', async () => {
      const id = await spinning('snap.thread', 'spinning in a thread');
      worker.kill('SIGKILL');
      await exited(worker, 10_000);
      const started = Date.now();
      const api = await post(`/api/jobs/${id}/snapshot?timeoutMs=800`);
      const waitedMs = Date.now() - started;
      assert.equal(api.status, 504, JSON.stringify(api.body));
      const e = (api.body as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'VIGIL_SNAPSHOT_TIMEOUT');
      assert.match(e.message, new RegExp(`no worker answered the snapshot request for job ${id} within 800 ms: its worker \\S+ may be frozen or gone`));
      assert.ok(waitedMs >= 800, `answered after ${waitedMs} ms, before the timeout`);
      // A function task has no program in /proc to fall back on: the timeout stands.
      const r = await runCli(['inspect', id, '--now', '--now-timeout', '800ms', '--store', loc.url]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /^vigil: no worker answered the snapshot request/m);
    });
  });
}
