import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { CommandExecutor } from '../src/executors/command-executor.js';
import { ProcessExecutor } from '../src/executors/process-executor.js';
import { procScanner, ProcScanner, type ProcStat } from '../src/executors/proc-scan.js';
import type { RunningAttempt } from '../src/executors/types.js';
import { RecordingChannel, spec, waitFor } from './fixtures/exec-channel.js';

/**
 * M2: every process and command attempt samples its process tree from /proc. A scan reads every process's stat file
 * synchronously on the supervisor's loop, so one scan per attempt per tick is O(attempts × processes) of blocking
 * I/O. These tests hold the executors to ONE scan per tick, shared by every attempt.
 */

const processes = new ProcessExecutor({ killBoundMs: 500 });
const commands = new CommandExecutor();
after(async () => {
  await Promise.all([processes.close(), commands.close()]);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the scanner serves every subscriber of a tick from one scan', async () => {
  let reads = 0;
  // A cheap reader: this test is about sharing; the cost bound has its own test below.
  const scanner = new ProcScanner(() => {
    reads += 1;
    return [] as ProcStat[];
  });
  const served: number[] = new Array(20).fill(0);
  const stops = served.map((_, i) => scanner.every(100, () => {
    served[i]! += 1;
    return 100;
  }));
  await sleep(1_050);
  for (const stop of stops) stop();
  assert.equal(scanner.subscribers, 0);
  assert.ok(served.every((n) => n >= 5), `every subscriber was served about every 100 ms: ${served}`);
  // 20 subscribers at 100 ms for ~1 s: 200 scans if each scanned for itself; one shared scan per tick is ~10.
  assert.ok(reads <= 14, `${reads} scans for 20 subscribers over ~1 s`);
});

test('scans are spaced by their own cost, however many subscribers ask', async () => {
  let reads = 0;
  const scanner = new ProcScanner(() => {
    reads += 1;
    const until = performance.now() + 20;
    while (performance.now() < until) {
      // A scan of a machine with very many processes.
    }
    return [] as ProcStat[];
  });
  const stops = Array.from({ length: 5 }, () => scanner.every(10, () => 10));
  const t0 = performance.now();
  await sleep(1_000);
  for (const stop of stops) stop();
  const elapsed = performance.now() - t0;
  // 20 ms per scan, spaced by 20× its cost: at most one scan per ~400 ms, so scanning takes ≤ ~5 % of the loop.
  assert.ok(reads <= Math.ceil(elapsed / 400) + 1, `${reads} scans of 20 ms in ${elapsed.toFixed(0)} ms`);
});

test('one slow scan among fast ones (preempted, a GC) does not space the next ones by its own cost', async () => {
  let reads = 0;
  const scanner = new ProcScanner(() => {
    reads += 1;
    // The third scan takes 150 ms of wall time (spaced by itself: no scan for 3 s); the others are fast.
    if (reads === 3) {
      const until = performance.now() + 150;
      while (performance.now() < until) {
        // Preempted, or paused by a GC.
      }
    }
    return [] as ProcStat[];
  });
  const stop = scanner.every(50, () => 50);
  try {
    await waitFor('the slow scan', () => reads >= 3, 5_000);
    const after = reads;
    await sleep(1_000);
    // A scan every 50 ms goes on: ~20 in the second; spaced by the slow one, none.
    assert.ok(reads - after >= 5, `${reads - after} scans in the second after the slow one`);
  } finally {
    stop();
  }
});

test('N concurrent process and command attempts cause one /proc scan per tick, not N', async (t) => {
  const n = 6;
  const running: RunningAttempt[] = [];
  for (let i = 0; i < n; i++) {
    // memoryMb makes each attempt sample its tree every 250 ms (the tightest period).
    running.push(processes.start(spec('forever', null, { memoryMb: 512 }), new RecordingChannel()));
    running.push(commands.start(spec('sleep', null, { memoryMb: 512, command: { argv: ['sleep', '30'], stdin: 'closed', result: 'exit' } }), new RecordingChannel()));
  }
  try {
    await waitFor('every attempt process to run', () => running.every((a) => a.pids().length > 0), 20_000);
    // Past the early samples of the programs (50, 100, 200 ms), every tracker samples every 250 ms.
    await sleep(500);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const before = procScanner.scans;
    const t0 = performance.now();
    await sleep(2_000);
    const scans = procScanner.scans - before;
    const elapsed = performance.now() - t0;
    delay.disable();
    const line = `${running.length} attempts, ${scans} scans in ${elapsed.toFixed(0)} ms (last scan ${procScanner.lastScanMs.toFixed(1)} ms); loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`;
    t.diagnostic(line);
    // One scan per attempt per 250 ms would be 12 × 8 = 96 scans; one shared scan per 250 ms tick is ~8.
    assert.ok(scans <= Math.ceil(elapsed / 250) + 4, line);
    assert.ok(scans >= 2, `the trees are still sampled: ${line}`);
  } finally {
    await Promise.all(running.map((a) => a.kill()));
  }
  assert.ok(procScanner.subscribers === 0, 'ended attempts stop sampling');
});
