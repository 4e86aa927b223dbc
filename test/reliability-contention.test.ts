import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { openTestVigil, startWorker, until } from './helpers/engine.js';

/**
 * DESIGN G8 under SQLite write contention (issue #13): 4 other processes write to the store as fast as its lock
 * allows while this process supervises attempts. better-sqlite3 is synchronous, so a lock wait inside SQLite would
 * stop this event loop; the store waits in 10 ms slices retried asynchronously instead. Measured: the loop's delay
 * (p99 < 50 ms) and that no healthy attempt was declared crashed (every job succeeded on its first attempt).
 */

const TASKS = resolve('test/fixtures/chaos-tasks.ts');
const WRITERS = Number(process.env.VIGIL_CONTENTION_WRITERS ?? 4);
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

test('4 writer processes on one SQLite store: the supervisor loop p99 stays under 50 ms, no healthy attempt is lost', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    const path = t.storeUrl.slice('sqlite:'.length);
    const runMs = 8_000;
    const counts: number[] = [];
    for (let i = 0; i < WRITERS; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/sqlite-writer-child.ts', path, String(runMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', () => counts.push(Number(out.split('\n')[1])));
      await until(`writer ${i} ready`, 60_000, () => out.startsWith('ready'));
    }
    for (const c of children) c.stdin!.write('go\n');
    // 5 s: SQLite's lock is not fair, and these writers never pause; with a 2 s lease (renewed every 667 ms) a renewal
    // starved for over 1.3 s lost the lease of a healthy attempt about one run in four (docs/reliability.md).
    const worker = await startWorker(t.vigil, { concurrency: 4, leaseMs: 5_000 });
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const started = Date.now();
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await t.vigil.submit('c-steady', { ms: 5_000 }));
    for (let i = 0; i < 60; i++) jobs.push(await t.vigil.submit('c-ok', { n: i, ms: 20 }));
    const done = await Promise.all(jobs.map((j) => t.vigil.wait(j.id, { timeout: '60s' })));
    await until('the writers to finish', 30_000, () => counts.length === WRITERS);
    delay.disable();
    const p99 = delay.percentile(99) / 1e6;
    const max = delay.max / 1e6;
    const writes = counts.reduce((a, b) => a + b, 0);
    const attempts = (await Promise.all(jobs.map((j) => t.vigil.store.attempts(j.id)))).flat();
    console.log(`# contention: ${WRITERS} writers made ${writes} enqueue transactions (${writes * 50} jobs) in ${runMs} ms; supervisor loop delay p50 ${(delay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; worker's own p99 ${worker.eventLoopDelay().p99.toFixed(1)} ms; ${jobs.length} jobs, ${attempts.length} attempts in ${Date.now() - started} ms`);
    await worker.stop({ drainMs: 0 });
    assert.ok(writes > 0, 'the writers wrote');
    for (const d of done) assert.equal(d.state, 'succeeded', `${d.id} ${d.task}: ${JSON.stringify(d.error)}`);
    assert.equal(attempts.length, jobs.length, `one attempt per job (crashed: ${JSON.stringify(attempts.filter((a) => a.outcome !== 'succeeded').map((a) => [a.jobId, a.outcome]))})`);
    // The bound is about this process, not about the machine: with more runnable processes than cores several times
    // over (other suites running alongside), the loop waits for a CPU, whatever the store does.
    const load = loadavg()[0]! / cpus().length;
    if (load < 2) assert.ok(p99 < 50, `supervisor event-loop delay p99 ${p99.toFixed(1)} ms (target < 50 ms)`);
    else console.log(`# contention: load average ${load.toFixed(1)} per core: the 50 ms bound is not judged on a machine this busy`);
  } finally {
    await t.cleanup();
  }
});
