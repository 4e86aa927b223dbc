// Alerts: onHang(report) and webhooks on a real loopback server. A webhook that never answers blocks nothing.
import { strict as assert } from 'node:assert';
import { after, describe, test } from 'node:test';
import { Vigil, type OpsAlert } from '../src/index.js';
import { WebhookSender } from '../src/ops/webhook.js';
import { until } from './helpers/engine.js';
import { HookServer } from './helpers/hook-server.js';
import { CliProcess, OPS_TASKS, tempDir } from './helpers/ops.js';

const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

describe('alerts', () => {
  test('onHang gets the hang report; a webhook receives it, retried with backoff after a 503', async () => {
    const t = tempDir();
    dirs.push(t);
    // The first POST gets a 503: the sender must try again.
    const hook = await new HookServer((n, res) => res.writeHead(n === 1 ? 503 : 204).end()).start();
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const sender = new WebhookSender(hook.url, { backoffMs: 100 });
    const heard: OpsAlert[] = [];
    vigil.onHang((a) => heard.push(a));
    vigil.onHang((a) => sender.send(a));
    vigil.onHang(() => {
      throw new Error('a broken listener must not reach the engine');
    });
    try {
      await vigil.startWorker({ concurrency: 2, pollMs: 100, leaseMs: 3_000 });
      const job = await vigil.submit('stuck', null);
      assert.equal((await vigil.wait(job.id, { timeout: '20s' })).error?.kind, 'timeout');
      const alert = await until('the onHang call', 10_000, () => heard.find((a) => a.type === 'hang'));
      assert.equal(alert.type, 'hang');
      if (alert.type !== 'hang') return;
      assert.equal(alert.kind, 'timeout');
      assert.equal(alert.job.id, job.id);
      assert.equal(alert.hangReport?.kind, 'timeout', 'the stored hang report comes with the alert');
      await until('delivery after one retry', 10_000, () => sender.stats.sent === 1);
      assert.equal(hook.received.length, 2, 'posted twice: a 503, then accepted');
      assert.deepEqual(hook.received[1], JSON.parse(JSON.stringify(alert)));
    } finally {
      await sender.close();
      await vigil.close();
      await hook.stop();
    }
  });

  test('a webhook that never answers blocks nothing: jobs run, the queue stays bounded, close is immediate', async () => {
    const t = tempDir();
    dirs.push(t);
    const hook = await new HookServer(() => undefined).start(); // reads the request, never answers
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const dropped: string[] = [];
    const sender = new WebhookSender(hook.url, { timeoutMs: 60_000, maxQueue: 10, onDrop: (_a, reason) => dropped.push(reason) });
    vigil.onHang((a) => sender.send(a));
    try {
      await vigil.startWorker({ concurrency: 4, pollMs: 100, leaseMs: 3_000 });
      const hangs = await Promise.all([1, 2, 3].map(() => vigil.submit('stuck', null)));
      for (const h of hangs) assert.equal((await vigil.wait(h.id, { timeout: '20s' })).error?.kind, 'timeout');
      await until('the first alert to reach the silent server', 10_000, () => hook.received.length >= 1);
      // The engine goes on while the request hangs.
      const started = Date.now();
      const quick = await Promise.all(Array.from({ length: 20 }, (_, n) => vigil.submit('quick', { n })));
      for (const q of quick) assert.equal((await vigil.wait(q.id, { timeout: '20s' })).state, 'succeeded');
      const quickMs = Date.now() - started;
      // A flood stays bounded: the oldest beyond maxQueue are dropped, never buffered without end.
      for (let i = 0; i < 500; i++) sender.send({ type: 'worker_lost', at: '', message: `flood ${i}`, worker: { workerId: 'w', hostname: 'h', pid: 1, lastSeenAt: '', silentMs: 0 }, workerId: 'x' });
      assert.ok(sender.stats.dropped >= 490, `dropped ${sender.stats.dropped}`);
      const closing = Date.now();
      await sender.close();
      const closeMs = Date.now() - closing;
      assert.ok(closeMs < 1_000, `close abandoned the hung request in ${closeMs} ms`);
      assert.equal(hook.received.length, 1, 'one delivery at a time: the hung one');
      console.log(`# 20 jobs in ${quickMs} ms while the webhook hung; close in ${closeMs} ms`);
    } finally {
      await sender.close();
      await vigil.close();
      await hook.stop();
    }
  });

  test('a live worker announces another worker that went lost (SIGKILL), once', async () => {
    const t = tempDir();
    dirs.push(t);
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const heard: OpsAlert[] = [];
    vigil.onHang((a) => heard.push(a));
    const doomed = new CliProcess(['worker', '--tasks', OPS_TASKS, '--store', t.store, '--lease', '2s', '--quiet'], { timeoutMs: 60_000 });
    try {
      const watcher = await vigil.startWorker({ concurrency: 1, pollMs: 100, leaseMs: 3_000 });
      await until('the doomed worker registered', 20_000, async () => (await vigil.store.listWorkers()).length === 2);
      const victim = (await vigil.store.listWorkers()).find((w) => w.workerId !== watcher.workerId)!;
      doomed.child.kill('SIGKILL');
      await doomed.done;
      const killedAt = Date.now();
      const lost = await until('the worker_lost alert', 20_000, () => heard.find((a) => a.type === 'worker_lost'));
      const announcedMs = Date.now() - killedAt;
      assert.equal(lost.type, 'worker_lost');
      if (lost.type !== 'worker_lost') return;
      assert.equal(lost.worker.workerId, victim.workerId);
      assert.equal(lost.workerId, watcher.workerId);
      assert.ok(lost.worker.silentMs > 2_000, `silent ${lost.worker.silentMs} ms: past its 2 s lease`);
      // Announced once, not on every check.
      await new Promise((r) => setTimeout(r, 4_500));
      assert.equal(heard.filter((a) => a.type === 'worker_lost').length, 1);
      console.log(`# worker_lost announced ${announcedMs} ms after the SIGKILL (lease 2 s)`);
    } finally {
      doomed.child.kill('SIGKILL');
      await vigil.close();
    }
  });

  test('vigil worker --webhook to a server that never answers still stops promptly on SIGTERM', async () => {
    const t = tempDir();
    dirs.push(t);
    const hook = await new HookServer(() => undefined).start();
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const worker = new CliProcess(['worker', '--tasks', OPS_TASKS, '--store', t.store, '--lease', '3s', '--webhook', hook.url], { timeoutMs: 60_000 });
    try {
      await worker.waitForStderr(/worker \S+ started/);
      const h = await vigil.submit('stuck', null);
      assert.equal((await vigil.wait(h.id, { timeout: '20s' })).error?.kind, 'timeout');
      await until('the alert POST to arrive', 10_000, () => hook.received.some((a) => a.type === 'hang'));
      const q = await vigil.submit('quick', { n: 1 });
      assert.equal((await vigil.wait(q.id, { timeout: '20s' })).state, 'succeeded');
      const stopping = Date.now();
      worker.child.kill('SIGTERM');
      const end = await worker.done;
      const stopMs = Date.now() - stopping;
      assert.equal(end.code, 0, end.stderr);
      // Stop gives queued alerts 2 s at most, then abandons them.
      assert.ok(stopMs < 6_000, `stopped in ${stopMs} ms`);
    } finally {
      worker.child.kill('SIGKILL');
      await vigil.close();
      await hook.stop();
    }
  });
});
