import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { after, test } from 'node:test';
import { openTestVigil, startWorker, until } from './helpers/engine.js';

/**
 * DESIGN G8 under SQLite write contention (issue #13): 4 other processes write to the store as fast as its lock
 * allows while this process supervises attempts. better-sqlite3 is synchronous, so a lock wait inside SQLite would
 * stop this event loop; the store waits in 10 ms slices retried asynchronously instead. Measured: the loop's delay
 * (p99 < 50 ms) and that no healthy attempt was declared crashed (every job succeeded on its first attempt).
 *
 * What is judged is the store's effect on the loop, not the CPU scheduler's: the writers run at nice 19, so they
 * contend for the lock at full strength but not for a CPU against the supervisor (4 of them on 2 cores put the load
 * average over 2 per core by themselves, and the bound was then never judged). Only the load of OTHER processes
 * (runnable tasks outside this test's process tree, sampled during the run) can still excuse the bound.
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
    // The writers start side by side (each loads tsx: ~1 s); none writes before the 'go' below.
    const ready: Array<Promise<unknown>> = [];
    for (let i = 0; i < WRITERS; i++) {
      // nice(1) before node starts: every thread of the writer inherits it (nice is per thread on Linux).
      const child = spawn('nice', ['-n', '19', process.execPath, '--import', 'tsx', 'test/fixtures/sqlite-writer-child.ts', path, String(runMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', () => counts.push(Number(out.split('\n')[1])));
      ready.push(until(`writer ${i} ready`, 60_000, () => out.startsWith('ready')));
    }
    await Promise.all(ready);
    const others = othersLoad();
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
    const otherRunnable = await others.stop();
    const p99 = delay.percentile(99) / 1e6;
    const max = delay.max / 1e6;
    const writes = counts.reduce((a, b) => a + b, 0);
    const attempts = (await Promise.all(jobs.map((j) => t.vigil.store.attempts(j.id)))).flat();
    console.log(`# contention: ${WRITERS} writers made ${writes} enqueue transactions (${writes * 50} jobs) in ${runMs} ms; supervisor loop delay p50 ${(delay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; worker's own p99 ${worker.eventLoopDelay().p99.toFixed(1)} ms; ${jobs.length} jobs, ${attempts.length} attempts in ${Date.now() - started} ms`);
    await worker.stop({ drainMs: 0 });
    assert.ok(writes > 0, 'the writers wrote');
    for (const d of done) assert.equal(d.state, 'succeeded', `${d.id} ${d.task}: ${JSON.stringify(d.error)}`);
    assert.equal(attempts.length, jobs.length, `one attempt per job (crashed: ${JSON.stringify(attempts.filter((a) => a.outcome !== 'succeeded').map((a) => [a.jobId, a.outcome]))})`);
    // The bound is about this process, not about the machine: with other suites keeping more tasks runnable than
    // there are cores, the loop waits for a CPU whatever the store does. This test's own writers do not count.
    const perCore = otherRunnable / cpus().length;
    console.log(`# contention: other processes kept ${otherRunnable.toFixed(2)} tasks runnable on average (${perCore.toFixed(2)} per core; the bound is judged under 1; the 1-min load average, writers included, was ${(loadavg()[0]! / cpus().length).toFixed(2)} per core)`);
    if (perCore < 1) assert.ok(p99 < 50, `supervisor event-loop delay p99 ${p99.toFixed(1)} ms (target < 50 ms)`);
    else console.log(`# contention: the 50 ms bound is not judged: other processes kept the machine busy (${perCore.toFixed(2)} runnable tasks per core)`);
  } finally {
    await t.cleanup();
  }
});

/**
 * Samples, from a thread of its own (off the loop being measured), how many tasks of OTHER processes are runnable:
 * the kernel's count of runnable tasks (/proc/loadavg, 4th field) minus those of this process and its descendants
 * (the writers, executor hosts, this sampler). Returns the average over the run.
 */
function othersLoad(): { stop(): Promise<number> } {
  const thread = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const { readFileSync, readdirSync } = require('node:fs');
    const read = (p) => { try { return readFileSync(p, 'latin1'); } catch { return ''; } };
    const fields = (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    function ours() {
      const parent = new Map();
      for (const e of readdirSync('/proc')) if (/^\\d+$/.test(e)) { const f = fields(read('/proc/' + e + '/stat')); if (f.length > 1) parent.set(Number(e), Number(f[1])); }
      const tree = new Set([workerData.root]);
      for (let grew = true; grew; ) { grew = false; for (const [pid, pp] of parent) if (!tree.has(pid) && tree.has(pp)) { tree.add(pid); grew = true; } }
      return tree;
    }
    let samples = 0, total = 0;
    const timer = setInterval(() => {
      const all = Number(read('/proc/loadavg').split(' ')[3].split('/')[0]);
      let mine = 0;
      for (const pid of ours()) for (const tid of (() => { try { return readdirSync('/proc/' + pid + '/task'); } catch { return []; } })()) if (fields(read('/proc/' + pid + '/task/' + tid + '/stat'))[0] === 'R') mine++;
      total += Math.max(0, all - mine); samples++;
    }, 200);
    parentPort.on('message', () => { clearInterval(timer); parentPort.postMessage(samples ? total / samples : 0); });
    `,
    { eval: true, workerData: { root: process.pid } },
  );
  return {
    async stop() {
      const answer = new Promise<number>((r) => thread.once('message', r));
      thread.postMessage('stop');
      const average = await answer;
      await thread.terminate();
      return average;
    },
  };
}
