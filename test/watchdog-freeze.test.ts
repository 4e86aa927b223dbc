// G8, for real: a `vigil worker` whose supervisor loop is blocked on purpose (a test-only hook) is caught by its
// watchdog thread, which records the frozen stack — naming the blocking function — where doctor shows it, alerts
// the webhook while the loop is still frozen, and with --restart-on-freeze ends the process; a new worker then
// completes every job that was running.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Vigil } from '../src/index.js';
import type { FreezeRecord } from '../src/store/contract.js';
import { until } from './helpers/engine.js';
import { HookServer } from './helpers/hook-server.js';
import { CliProcess, OPS_TASKS, doctor, failing, tempDir } from './helpers/ops.js';

const BLOCKER = 'blockSupervisorLoopForTest';
const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0): read its state instead.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function freezes(vigil: Vigil): Promise<FreezeRecord[]> {
  return (await vigil.store.opsSnapshot({ sinceMs: 0, limit: 10 })).freezes;
}

describe('supervisor self-watchdog', () => {
  test('a 3 s freeze is captured with the blocking function, stored, shown by doctor, and alerted while frozen', async () => {
    const t = tempDir();
    dirs.push(t);
    const hook = await new HookServer().start();
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const worker = new CliProcess(
      ['worker', '--tasks', OPS_TASKS, '--store', t.store, '--lease', '10s', '--freeze-after', '500ms', '--webhook', hook.url],
      { env: { VIGIL_TEST_BLOCK_SUPERVISOR_MS: '3000' }, timeoutMs: 60_000 },
    );
    try {
      await worker.waitForStderr(/worker \S+ started/);
      const job = await vigil.submit('nap', { ms: 200 });
      const frozenAt = Date.now();
      await worker.waitForStderr(/supervisor stack after \d+ ms frozen/);
      // The alert arrives from the watchdog thread during the freeze, not after it.
      const alert = await until('the freeze alert', 10_000, () => hook.received.find((a) => a.type === 'supervisor_frozen'));
      const alertMs = Date.now() - frozenAt;
      const stillFrozen = !/running again after/.test(worker.stderr);
      await worker.waitForStderr(/running again after \d+ ms frozen/);
      assert.equal((await vigil.wait(job.id, { timeout: '20s' })).state, 'succeeded', 'the job survives a 3 s freeze within its lease');
      assert.match(worker.stderr, new RegExp(`at ${BLOCKER} \\(`));

      const [record] = await until('the stored freeze', 5_000, async () => ((await freezes(vigil)).length ? freezes(vigil) : null));
      assert.equal(record!.action, 'logged');
      assert.equal(record!.stack[0]?.functionName, BLOCKER, JSON.stringify(record!.stack.slice(0, 3)));
      assert.match(record!.stack[0]!.file, /src\/ops\/test-hooks\.ts$/);
      assert.ok(record!.blockedMs >= 500 && record!.blockedMs < 3_000, `captured during the freeze, ${record!.blockedMs} ms in`);
      const freeze = (alert as { freeze: FreezeRecord }).freeze;
      assert.equal(freeze.stack[0]?.functionName, BLOCKER);
      assert.ok(stillFrozen, `the alert came while the supervisor was still frozen (${alertMs} ms after submit)`);

      const { result, report } = await doctor(t.store);
      assert.equal(result.code, 1, result.stdout);
      assert.deepEqual(failing(report), ['supervisor-freezes']);
      assert.equal(report.freezes[0]!.stack[0]!.functionName, BLOCKER);
      const text = await new CliProcess(['doctor', '--store', t.store]).done;
      assert.match(text.stdout, new RegExp(`FAIL\\s+supervisor-freezes[\\s\\S]*at ${BLOCKER} \\(`));

      // The same worker's webhook also gets hang alerts, with the hang report.
      const stuck = await vigil.submit('stuck', null);
      assert.equal((await vigil.wait(stuck.id, { timeout: '20s' })).error?.kind, 'timeout');
      const hang = (await until('the hang alert', 10_000, () => hook.received.find((a) => a.type === 'hang'))) as {
        kind: string;
        job: { id: string; task: string };
        hangReport: { kind: string } | null;
      };
      assert.deepEqual([hang.kind, hang.job.id, hang.job.task, hang.hangReport?.kind], ['timeout', stuck.id, 'stuck', 'timeout']);
      console.log(`# freeze captured ${record!.blockedMs} ms into it; alert received ${alertMs} ms after submit`);
      worker.child.kill('SIGTERM');
      assert.equal((await worker.done).code, 0);
    } finally {
      worker.child.kill('SIGKILL');
      await vigil.close();
      await hook.stop();
    }
  });

  test('--restart-on-freeze ends the frozen process; a new worker completes every job it was running', async () => {
    const t = tempDir();
    dirs.push(t);
    const vigil = await Vigil.open({ store: t.store, tasks: OPS_TASKS });
    const jobs = await Promise.all([1, 2, 3].map(() => vigil.submit('nap', { ms: 1_500 })));
    const frozen = new CliProcess(
      ['worker', '--tasks', OPS_TASKS, '--store', t.store, '--lease', '3s', '--concurrency', '3', '--freeze-after', '500ms', '--restart-on-freeze', '1500ms'],
      { env: { VIGIL_TEST_BLOCK_SUPERVISOR_MS: '20000' }, timeoutMs: 60_000 },
    );
    try {
      await until('all three running', 20_000, async () => (await vigil.store.getMany(jobs.map((j) => j.id))).every((j) => j.state === 'running'));
      const started = Date.now();
      const hosts = childrenOf(frozen.child.pid!);
      assert.ok(hosts.length > 0, 'the worker has executor processes');
      const end = await frozen.done;
      const exitMs = Date.now() - started;
      assert.equal(end.signal, 'SIGKILL', `the watchdog ended the process (exit ${end.code}):\n${end.stderr}`);
      assert.ok(exitMs < 10_000, `ended ${exitMs} ms after the jobs started, not after the 20 s freeze`);
      assert.match(end.stderr, /over --restart-on-freeze/);
      // Nothing the frozen worker started outlives it (G1): no attempt keeps running beside the re-run.
      await until('its executor processes to be gone', 5_000, () => hosts.every((pid) => !alive(pid)));
      const restart = (await freezes(vigil)).find((f) => f.action === 'restart');
      assert.ok(restart, 'the restart was recorded before the process ended');
      assert.equal(restart.stack[0]?.functionName, BLOCKER);

      // The replacement: the dead worker's leases expire and every job runs to the end.
      await vigil.startWorker({ concurrency: 3, pollMs: 100, leaseMs: 3_000 });
      for (const j of jobs) {
        const done = await vigil.wait(j.id, { timeout: '30s' });
        assert.equal(done.state, 'succeeded', `job ${j.id}: ${JSON.stringify(done.error)}`);
      }
      const counts = await vigil.store.counts();
      assert.deepEqual([counts.succeeded, counts.queued, counts.running, counts.failed], [3, 0, 0, 0], 'none lost');
      console.log(`# restart-on-freeze: process ended ${exitMs} ms after its jobs started (1.5 s threshold)`);
    } finally {
      frozen.child.kill('SIGKILL');
      await vigil.close();
    }
  });
});
