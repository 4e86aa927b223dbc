/**
 * How to use the pipeline from your own code: open Vigil on a store, run a worker, submit, wait, read results.
 *
 *   node --import tsx examples/highlights/submit.ts [track.wav ...]
 *
 * Without arguments it synthesises one track. The worker runs in this process here for brevity; in production run
 * `vigil worker --tasks ./tasks.ts` (as many as you like, on any machine that sees the store) and only submit here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your project: import { Vigil } from 'vigil';
import { Vigil } from '../../src/index.js';
import type { TrackInput, TrackResult } from './tasks.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'highlights-'));

// Passing the tasks module lets `submit` check task names and inputs' retry policy, and lets us start a worker.
const vigil = await Vigil.open({ store: `sqlite:${join(workDir, 'vigil.db')}`, tasks: join(here, 'tasks.ts') });
const worker = await vigil.startWorker({ concurrency: 2 });
// One line per attempt that did not succeed: retries and failures are visible, never silent.
worker.on('event', (e) => {
  if (e.type === 'finished' && e.outcome !== 'succeeded') console.error(`job ${e.jobId}: attempt ${e.attempt} ${e.outcome}${e.retrying ? ', retrying' : ''}`);
});

try {
  const files = process.argv.slice(2);
  const inputs: TrackInput[] = files.length
    ? files.map((f, i) => ({ name: `input-${i + 1}`, source: { wav: resolve(f) }, workDir, windowSeconds: 1.5 }))
    : [{ name: 'synth', source: { synth: { seed: 42, seconds: 20, sampleRate: 44_100 } }, workDir, windowSeconds: 1.5 }];

  const jobs = await Promise.all(inputs.map((input) => vigil.submit('highlights.track', input)));
  for (const submitted of jobs) {
    const job = await vigil.wait(submitted.id, { timeout: '5m' });
    if (job.state !== 'succeeded') {
      // The error keeps its kind (timeout, crashed, children, ...) and message; `vigil inspect <id>` shows more.
      console.log(`track job ${job.id}: ${job.state}: ${job.error?.kind}: ${job.error?.message}`);
      continue;
    }
    const r = job.result as unknown as TrackResult;
    console.log(`\n${r.track}: ${r.analysed}/${r.windows} windows of ${r.seconds} s`);
    for (const h of r.loudest) console.log(`  loud   ${h.startSec.toFixed(1)}-${h.endSec.toFixed(1)} s  ${h.rmsDb} dBFS`);
    for (const h of r.brightest) console.log(`  bright ${h.startSec.toFixed(1)}-${h.endSec.toFixed(1)} s  ${h.centroidHz} Hz`);
    // allSettled: failed windows come back as outcomes, and the track lists them with the reason.
    for (const m of r.missing) console.log(`  missing window ${m.window} (job ${m.jobId}): ${m.kind}: ${m.reason}`);
    // Every child is a job of its own: its attempts (and hang reports) are in the store.
    const children = await vigil.children(job.id);
    const retried = children.filter((c) => c.attempts > 1);
    if (retried.length) console.log(`  ${retried.length} window(s) needed more than one attempt`);
  }
} finally {
  await worker.stop();
  await vigil.close();
  rmSync(workDir, { recursive: true, force: true });
}
