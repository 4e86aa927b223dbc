/**
 * The "highlights" pipeline: find the loudest and brightest moments of audio tracks.
 *
 *   highlights.track   (one per track)  reads or synthesises the WAV, fans out one child per window,
 *                                       waits for all of them (allSettled) and combines the features.
 *   highlights.window  (one per window) reads its slice of the WAV and computes RMS, spectral centroid
 *                                       (own radix-2 FFT) and onsets, in a worker thread.
 *
 * This is also what `vigil demo` runs. The demo asks three windows to misbehave on purpose (input field `fault`):
 * one spins forever on its first attempt, one runs a program that asks a question on stdin, one is corrupt. In
 * your own copy, delete `fault` and everything that reads it.
 *
 * In your project, import from 'vigil' instead of the relative path:
 *   import { defineTask, NonRetryableError } from 'vigil';
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { defineTask, NonRetryableError, type ChildOutcome } from '../../src/index.js';
import { analyseWindow, type WindowFeatures } from './features.js';
import { synthesiseTrack, type SynthSpec } from './synth.js';
import { readWavInfo, readWavWindow, WavFormatError, writeWavMono } from './wav.js';

export type Fault = 'spin' | 'prompt' | 'corrupt';

export interface TrackInput {
  name: string;
  /** A WAV file to analyse, or a track to synthesise into `workDir` first. */
  source: { wav: string } | { synth: SynthSpec };
  workDir: string;
  windowSeconds: number;
  /** Demo only: window index → the fault that window injects. */
  faults?: Record<string, Fault>;
}

export interface WindowInput {
  path: string;
  index: number;
  startFrame: number;
  frames: number;
  fault?: Fault;
}

export interface WindowResult extends WindowFeatures {
  index: number;
  startSec: number;
  endSec: number;
  /** Set when the window ran an external program (the `prompt` fault): what it printed and how long it took. */
  externalProgram?: { argv: string[]; exitCode: number | null; stdout: string; ms: number };
}

export interface Highlight {
  window: number;
  startSec: number;
  endSec: number;
  rmsDb: number;
  centroidHz: number;
}

export interface TrackResult {
  track: string;
  path: string;
  seconds: number;
  sampleRate: number;
  windows: number;
  analysed: number;
  loudest: Highlight[];
  brightest: Highlight[];
  /** Windows without features, and why: a result is never silently partial. */
  missing: Array<{ window: number; startSec: number; endSec: number; jobId: string; kind: string; reason: string }>;
}

/**
 * A decoder stuck in a busy loop: the kind of hang no `await` or timer can interrupt. Vigil's timeout fires, the
 * hang report shows this function and line, the thread is terminated and the window is retried.
 */
function stuckDecoderLoop(): never {
  let x = 0;
  for (;;) x = (x * 1103515245 + 12345) % 2147483648;
}

export const analyseWindowTask = defineTask<WindowInput, WindowResult>({
  name: 'highlights.window',
  isolation: 'thread',
  // A window takes well under a second; 2.5 s means "stuck", and we would rather retry than wait.
  timeout: '2500ms',
  grace: '200ms',
  retries: { max: 3, backoff: '200ms', jitter: 0 },
  run: async (input, ctx) => {
    const info = readWavInfo(input.path);
    const rate = info.sampleRate;
    const window = { index: input.index, startSec: input.startFrame / rate, endSec: (input.startFrame + input.frames) / rate };
    if (input.fault === 'corrupt') {
      // Retrying can not fix bad bytes: fail for good, with a message that says what is wrong.
      throw new NonRetryableError(`corrupt frame header at byte ${info.dataOffset + input.startFrame * 2 * info.channels}: window ${input.index} can not be decoded`);
    }
    if (input.fault === 'spin' && ctx.attempt === 1) stuckDecoderLoop();
    let externalProgram: WindowResult['externalProgram'];
    if (input.fault === 'prompt') {
      // A tool that asks before it overwrites. Vigil closes stdin by default: it reads end-of-file and goes on
      // with its default answer instead of waiting for a keyboard that is not there.
      const argv = ['sh', '-c', 'printf "Overwrite cached spectrum? [y/N] "; if read answer; then echo "answer: $answer"; else echo; echo "no answer (stdin: end-of-file), keeping the default: N"; fi'];
      const started = Date.now();
      const r = await ctx.exec(argv, { timeout: '2s' });
      externalProgram = { argv, exitCode: r.exitCode, stdout: r.stdout.trim(), ms: Date.now() - started };
      ctx.log(`external program done in ${externalProgram.ms} ms: ${externalProgram.stdout.split('\n').at(-1)}`);
    }
    const samples = readWavWindow(input.path, info, input.startFrame, input.frames);
    const features = analyseWindow(samples, rate);
    return { ...window, ...features, ...(externalProgram ? { externalProgram } : {}) };
  },
});

export const analyseTrack = defineTask<TrackInput, TrackResult>({
  name: 'highlights.track',
  isolation: 'thread',
  // The parent's slot is given back while it waits for its windows, so this bounds the whole track, not CPU.
  timeout: '2m',
  run: async (input, ctx) => {
    const path = 'wav' in input.source ? input.source.wav : join(input.workDir, `${input.name}.wav`);
    if ('synth' in input.source && !existsSync(path)) {
      ctx.progress(0, 'synthesising');
      mkdirSync(input.workDir, { recursive: true });
      writeWavMono(path, synthesiseTrack(input.source.synth), input.source.synth.sampleRate);
    }
    let info;
    try {
      info = readWavInfo(path);
    } catch (err) {
      if (err instanceof WavFormatError) throw new NonRetryableError(err.message, { cause: err });
      throw err;
    }
    const per = Math.round(input.windowSeconds * info.sampleRate);
    const count = Math.ceil(info.frames / per);
    ctx.progress({ done: 0, total: count }, `analysing ${count} windows of ${basename(path)}`);
    // Keys make the children durable: if this parent is re-run (its worker died), it gets the same windows back,
    // with the results of those that already finished.
    const children = Array.from({ length: count }, (_, index) =>
      ctx.spawn(
        analyseWindowTask,
        { path, index, startFrame: index * per, frames: Math.min(per, info.frames - index * per), fault: input.faults?.[String(index)] },
        { key: `window-${index}` },
      ),
    );
    const outcomes = await ctx.all(children, { policy: 'allSettled' });
    return combine(input.name, path, info.seconds, info.sampleRate, per, outcomes);
  },
});

function combine(track: string, path: string, seconds: number, sampleRate: number, per: number, outcomes: ChildOutcome<WindowResult>[]): TrackResult {
  const ok: WindowResult[] = [];
  const missing: TrackResult['missing'] = [];
  outcomes.forEach((o, index) => {
    if (o.status === 'succeeded') ok.push(o.value);
    else {
      const startSec = (index * per) / sampleRate;
      missing.push({ window: index, startSec, endSec: Math.min(seconds, startSec + per / sampleRate), jobId: o.jobId, kind: o.kind, reason: o.message });
    }
  });
  const highlight = (w: WindowResult): Highlight => ({ window: w.index, startSec: w.startSec, endSec: w.endSec, rmsDb: w.rmsDb, centroidHz: w.centroidHz });
  return {
    track,
    path,
    seconds: Math.round(seconds * 100) / 100,
    sampleRate,
    windows: outcomes.length,
    analysed: ok.length,
    loudest: [...ok].sort((a, b) => b.rmsDb - a.rmsDb).slice(0, 3).map(highlight),
    brightest: [...ok].sort((a, b) => b.centroidHz - a.centroidHz).slice(0, 3).map(highlight),
    missing,
  };
}
