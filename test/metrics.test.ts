// /metrics, /healthz and /readyz on a real Fastify instance and a real worker; the exposition is parsed with a
// Prometheus text-format parser, and the counters must move as jobs run, fail and hang.
import { strict as assert } from 'node:assert';
import { after, describe, test } from 'node:test';
import Fastify from 'fastify';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Vigil } from '../src/index.js';
import { VigilMetrics } from '../src/ops/metrics.js';
import { registerOpsRoutes } from '../src/ops/routes.js';
import { openStore } from '../src/store/open.js';
import { until } from './helpers/engine.js';
import { CliProcess, OPS_TASKS, tempDir } from './helpers/ops.js';

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

const parse = (text: string): Map<string, Family> =>
  new Map((parsePrometheusTextFormat as unknown as (t: string) => Family[])(text).map((f) => [f.name, f]));

/** The value of one sample of a counter or gauge with exactly these labels (0 when absent). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) return 0;
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? 0 : Number(sample.value);
}

const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

describe('metrics and health routes', () => {
  test('counters move as jobs run, fail and hang; queue, worker and store metrics; Node defaults', async () => {
    const t = tempDir();
    dirs.push(t);
    const metrics = new VigilMetrics();
    const raw = await openStore(t.store);
    const store = metrics.instrumentStore(raw);
    metrics.observeStore(store);
    const vigil = await Vigil.open({ store, tasks: OPS_TASKS });
    const app = Fastify();
    try {
      const queued = await vigil.submit('nap', { ms: 10 });
      const scrape = async (): Promise<Map<string, Family>> => {
        const res = await app.inject({ method: 'GET', url: '/metrics' });
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
        return parse(res.body);
      };
      // Before any worker: the queue shows the job.
      registerOpsRoutes(app, { store, metrics });
      let m = await scrape();
      assert.equal(value(m, 'vigil_queue_depth', { task: 'nap', state: 'runnable' }), 1);
      assert.ok(m.get('vigil_queue_oldest_age_seconds')!.metrics.some((s) => s.labels?.task === 'nap'));
      assert.equal(value(m, 'vigil_store_up'), 1);
      assert.ok(m.has('process_cpu_user_seconds_total') && m.has('nodejs_eventloop_lag_seconds'), 'Node default metrics');

      const worker = await vigil.startWorker({ concurrency: 2, pollMs: 100, leaseMs: 3_000 });
      metrics.observeWorker(worker);
      assert.equal((await vigil.wait(queued.id, { timeout: '20s' })).state, 'succeeded');
      const boom = await vigil.submit('boom', null);
      const stuck = await vigil.submit('stuck', null);
      const stuckProcess = await vigil.submit('stuck-process', null);
      assert.equal((await vigil.wait(stuckProcess.id, { timeout: '20s' })).error?.kind, 'timeout');
      assert.equal((await vigil.wait(boom.id, { timeout: '20s' })).state, 'failed');
      assert.equal((await vigil.wait(stuck.id, { timeout: '20s' })).error?.kind, 'timeout');
      const again = await vigil.submit('quick', { n: 2 });
      await vigil.wait(again.id, { timeout: '20s' });

      m = await until('the last finish to be counted', 5_000, async () => {
        const s = await scrape();
        return value(s, 'vigil_attempts_finished_total', { task: 'quick', outcome: 'succeeded' }) === 1 ? s : null;
      }).catch(async () => scrape());
      assert.equal(value(m, 'vigil_attempts_finished_total', { task: 'quick', outcome: 'succeeded' }), 1);
      assert.equal(value(m, 'vigil_attempts_finished_total', { task: 'boom', outcome: 'error' }), 1);
      assert.equal(value(m, 'vigil_attempts_finished_total', { task: 'stuck', outcome: 'timeout' }), 1);
      assert.equal(value(m, 'vigil_jobs_finished_total', { task: 'boom', outcome: 'error' }), 1);
      assert.equal(value(m, 'vigil_jobs_finished_total', { task: 'stuck', outcome: 'timeout' }), 1);
      assert.equal(value(m, 'vigil_hangs_total', { task: 'stuck', kind: 'timeout' }), 1);
      assert.equal(value(m, 'vigil_hangs_total', { task: 'boom', kind: 'error' }), 0, 'an error is not a hang');
      assert.equal(m.get('vigil_attempt_duration_seconds')!.type, 'HISTOGRAM');
      // parse-prometheus-text-format drops the labels, _sum and _count of labelled histograms: read those from the
      // registry itself (the text above already proved the exposition parses).
      const json = await metrics.registry.getMetricsAsJSON();
      const series = (name: string, label: string, v: string) =>
        json.find((f) => f.name === name)!.values.filter((x) => x.labels[label] === v);
      const stuckDuration = series('vigil_attempt_duration_seconds', 'task', 'stuck');
      assert.equal(stuckDuration.find((x) => x.metricName === 'vigil_attempt_duration_seconds_count')?.value, 1);
      const sum = stuckDuration.find((x) => x.metricName === 'vigil_attempt_duration_seconds_sum')!.value;
      assert.ok(sum >= 0.5, `the stuck attempt lasted its 500 ms timeout (${sum} s)`);
      assert.ok(value(m, 'vigil_executor_hosts_forked_total', { executor: 'thread' }) >= 1);
      assert.equal(value(m, 'vigil_hangs_total', { task: 'stuck-process', kind: 'timeout' }), 1);
      assert.ok(value(m, 'vigil_executor_hosts_forked_total', { executor: 'process' }) >= 1);
      assert.ok(value(m, 'vigil_executor_hosts_killed_total', { executor: 'process' }) >= 1, 'the hung attempt process was killed');
      const claims = series('vigil_store_operation_duration_seconds', 'operation', 'claim');
      assert.ok(claims.find((x) => x.metricName === 'vigil_store_operation_duration_seconds_count')!.value > 0);
      assert.equal(value(m, 'vigil_slots'), 2);
      assert.equal(value(m, 'vigil_slots_free'), 2);
      assert.equal(value(m, 'vigil_attempts_running'), 0);
      assert.equal(value(m, 'vigil_workers', { state: 'live' }), 1);
      assert.equal(value(m, 'vigil_workers', { state: 'lost' }), 0);
      assert.equal(value(m, 'vigil_queue_depth', { task: 'nap', state: 'runnable' }), 0);
      assert.ok(m.get('vigil_supervisor_event_loop_delay_seconds')!.metrics.some((s) => s.labels?.stat === 'p99'));
      assert.equal(value(m, 'vigil_supervisor_freezes_total'), 0);
      assert.equal(value(m, 'vigil_lease_renewals_failed_total', { reason: 'error' }), 0);
    } finally {
      await app.close();
      await vigil.close();
      metrics.close();
      await raw.close();
    }
  });

  test('/healthz answers; /readyz lists its checks and turns 503 with the reason when the store is gone', async () => {
    const t = tempDir();
    dirs.push(t);
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const app = Fastify();
    try {
      const worker = await vigil.startWorker({ concurrency: 1, pollMs: 100, leaseMs: 3_000 });
      registerOpsRoutes(app, { store: vigil.store, worker });
      const health = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      assert.equal(health.json<{ status: string }>().status, 'ok');
      const ready = await until('the claim loop to turn once', 5_000, async () => {
        const r = await app.inject({ method: 'GET', url: '/readyz' });
        return r.statusCode === 200 ? r : null;
      });
      assert.deepEqual(ready.json<{ checks: Array<{ name: string; ok: boolean }> }>().checks.map((c) => [c.name, c.ok]), [
        ['store', true],
        ['schema', true],
        ['claimLoop', true],
        ['backlog', true],
      ]);
      await worker.stop({ drainMs: 1_000 });
      await vigil.store.close();
      const down = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(down.statusCode, 503);
      const body = down.json<{ ready: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> }>();
      assert.equal(body.ready, false);
      assert.equal(body.checks[0]!.name, 'store');
      assert.match(body.checks[0]!.detail, /did not answer: .*closed/);
    } finally {
      await app.close();
      await vigil.close().catch(() => undefined);
    }
  });

  test('vigil worker --metrics-port serves /metrics, /healthz and /readyz', async () => {
    const t = tempDir();
    dirs.push(t);
    const worker = new CliProcess(['worker', '--tasks', OPS_TASKS, '--store', t.store, '--metrics-port', '0', '--lease', '3s'], { timeoutMs: 60_000 });
    const submitter = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    try {
      const [, base] = await worker.waitForStderr(/on (http:\/\/127\.0\.0\.1:\d+)\/metrics/);
      await worker.waitForStderr(/worker \S+ started/);
      const job = await submitter.submit('quick', { n: 3 });
      assert.equal((await submitter.wait(job.id, { timeout: '20s' })).state, 'succeeded');
      const m = await until('the finish to be counted', 5_000, async () => {
        const s = parse(await (await fetch(`${base}/metrics`)).text());
        return value(s, 'vigil_attempts_finished_total', { task: 'quick', outcome: 'succeeded' }) === 1 ? s : null;
      });
      assert.ok(m.has('vigil_store_operation_duration_seconds'));
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200, await ready.clone().text());
      assert.equal(((await ready.json()) as { ready: boolean }).ready, true);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
    } finally {
      worker.child.kill('SIGKILL');
      await submitter.close();
    }
  });
});
