// Issue 7: `vigil demo` runs the highlights pipeline with its faults, and what its summary claims is in the store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vigil } from '../src/index.js';
import type { DemoSummary } from '../src/demo/facts.js';
import { runCli } from './helpers/cli.js';

function parseSummary(output: string): DemoSummary {
  // stdout is the JSON summary; the live event lines (stderr) come before it in the combined output.
  const start = output.indexOf('\n{\n');
  const text = start >= 0 ? output.slice(start + 1) : output.slice(output.indexOf('{'));
  return JSON.parse(text.slice(0, text.lastIndexOf('}') + 1)) as DemoSummary;
}

describe('vigil demo', () => {
  let dir: string;
  let storeUrl: string;
  let vigil: Vigil;
  let first: DemoSummary;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-demo-test-'));
    storeUrl = `sqlite:${join(dir, 'demo.db')}`;
  });
  after(async () => {
    await vigil?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with faults: exits 0 in under 60 s and every fact of the summary is in the store', async () => {
    const run = await runCli(['demo', '--store', storeUrl, '--json'], 90_000);
    assert.equal(run.code, 0, run.output);
    assert.ok(run.ms < 60_000, `took ${run.ms} ms`);
    console.log(`vigil demo (faults on) took ${run.ms} ms`);
    first = parseSummary(run.output);
    assert.equal(first.ok, true);
    assert.ok(first.checks.every((c) => c.ok), JSON.stringify(first.checks, null, 2));

    vigil = await Vigil.open({ store: storeUrl });
    // Every track has a result, read from the store, not from the summary.
    for (const t of first.tracks) {
      const job = await vigil.get(t.jobId);
      assert.equal(job.state, 'succeeded', `${t.name}`);
      const result = job.result as { windows: number; analysed: number; loudest: unknown[]; missing: Array<{ window: number; reason: string }> };
      assert.equal(result.analysed + result.missing.length, result.windows);
      assert.ok(result.loudest.length > 0);
    }

    // The spinning window: attempt 1 timed out with a hang report naming the spinning function, then it succeeded.
    const spin = first.faults.find((f) => f.fault === 'spin')!;
    const spinAttempts = await vigil.attempts(spin.jobId!);
    assert.equal(spinAttempts[0]!.outcome, 'timeout');
    const frames = spinAttempts[0]!.hangReport?.where.stack ?? [];
    const frame = frames.find((f) => f.functionName === 'stuckDecoderLoop');
    assert.ok(frame, `hang report stack: ${JSON.stringify(frames)}`);
    assert.match(frame.file, /examples\/highlights\/tasks\.ts$/);
    assert.ok(frame.line > 0);
    assert.equal((await vigil.get(spin.jobId!)).state, 'succeeded');

    // The prompting program read end-of-file and did not hang.
    const prompt = first.faults.find((f) => f.fault === 'prompt')!;
    const promptJob = await vigil.get(prompt.jobId!);
    assert.equal(promptJob.state, 'succeeded');
    assert.match(JSON.stringify(promptJob.result), /end-of-file/);

    // The corrupt window failed for good after one attempt, and its track's result lists it with the reason.
    const corrupt = first.faults.find((f) => f.fault === 'corrupt')!;
    const corruptJob = await vigil.get(corrupt.jobId!);
    assert.equal(corruptJob.state, 'failed');
    // Never retried by its own policy; a track job re-run after the crash may give it one more try per parent run.
    const corruptAttempts = await vigil.attempts(corrupt.jobId!);
    assert.ok(corruptAttempts.every((a) => a.outcome === 'error' && a.error?.retryable === false));
    assert.ok(corruptAttempts.length <= (await vigil.get(first.tracks.find((t) => t.name === corrupt.track)!.jobId)).attempts);
    assert.match(corruptJob.error!.message, /corrupt frame header/);
    const track = first.tracks.find((t) => t.name === corrupt.track)!;
    const trackResult = (await vigil.get(track.jobId)).result as { missing: Array<{ window: number; jobId: string; reason: string }> };
    assert.deepEqual(
      trackResult.missing.map((m) => [m.window, m.jobId]),
      [[corrupt.window, corrupt.jobId]],
    );
    assert.match(trackResult.missing[0]!.reason, /corrupt frame header/);

    // The crash: attempts of the killed worker ended `crashed`, were re-run, and every job of the run ended.
    assert.ok(first.crash?.injected);
    const crashed = [];
    for (const id of first.crash!.inFlight) {
      const attempts = await vigil.attempts(id);
      if (attempts.some((a) => a.outcome === 'crashed' && a.workerId.includes(`:${first.crash!.workerPid}:`))) crashed.push(id);
      assert.equal((await vigil.get(id)).state, 'succeeded', `job ${id} was running at the crash`);
    }
    assert.ok(crashed.length > 0, 'at least one in-flight attempt was recovered as crashed');
    const jobs = await vigil.list({ limit: 10_000 });
    assert.equal(jobs.length, first.jobs.expected);
    assert.ok(jobs.every((j) => ['succeeded', 'failed'].includes(j.state)));
    assert.equal(jobs.filter((j) => j.state === 'failed').length, 1);
  });

  test('a second run on the same store works and leaves the first run alone', async () => {
    assert.ok(first, 'needs the first run');
    const run = await runCli(['demo', '--store', storeUrl, '--json', '--no-faults'], 60_000);
    assert.equal(run.code, 0, run.output);
    const second = parseSummary(run.output);
    assert.equal(second.ok, true);
    assert.equal(second.faults.length, 0);
    assert.equal(second.crash, null);
    const firstIds = new Set(first.tracks.map((t) => t.jobId));
    assert.ok(second.tracks.every((t) => !firstIds.has(t.jobId)), 'new jobs');
    assert.ok(second.tracks.every((t) => t.missing.length === 0 && t.analysed === t.windows));
    const jobs = await vigil.list({ limit: 10_000 });
    assert.equal(jobs.length, first.jobs.expected + second.jobs.expected);
  });

  test('--input with a file that is not WAV is a usage error (exit 2) naming the file', async () => {
    const bad = join(dir, 'notes.wav');
    writeFileSync(bad, 'not audio');
    const run = await runCli(['demo', '--store', `sqlite:${join(dir, 'bad.db')}`, '--input', bad], 30_000);
    assert.equal(run.code, 2, run.output);
    assert.match(run.output, /notes\.wav: not a RIFF\/WAVE file/);
  });
});
