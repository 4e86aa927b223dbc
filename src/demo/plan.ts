import { basename, extname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { Json } from '../types.js';
import { wavFrames } from './wav-header.js';

/** What the demo submits: one `highlights.track` job per track, and which windows misbehave on purpose. */

export type FaultName = 'spin' | 'prompt' | 'corrupt';

export interface PlannedTrack {
  name: string;
  windows: number;
  /** The `highlights.track` input (examples/highlights/tasks.ts: TrackInput). */
  input: { [key: string]: Json };
}

export interface PlannedFault {
  fault: FaultName;
  track: string;
  window: number;
}

export interface DemoPlan {
  tracks: PlannedTrack[];
  faults: PlannedFault[];
  /** Kill the worker once mid-run. */
  crash: boolean;
}

export const SYNTH = { tracks: 4, seconds: 30, sampleRate: 44_100 } as const;
export const WINDOW_SECONDS = 1.5;

export async function makePlan(options: { inputs: string[]; faults: boolean; workDir: string }): Promise<DemoPlan> {
  const tracks: PlannedTrack[] = [];
  if (options.inputs.length > 0) {
    const seen = new Set<string>();
    for (const file of options.inputs) {
      const path = resolve(file);
      const { frames, sampleRate } = await wavFrames(path);
      if (frames === 0) throw new UsageError('VIGIL_INVALID_INPUT', `--input ${file}: the file holds no samples`);
      let name = basename(path, extname(path)).replace(/[^A-Za-z0-9_.-]/g, '_') || 'track';
      while (seen.has(name)) name += '_';
      seen.add(name);
      tracks.push({ name, windows: Math.ceil(frames / Math.round(WINDOW_SECONDS * sampleRate)), input: { name, source: { wav: path }, workDir: options.workDir, windowSeconds: WINDOW_SECONDS } });
    }
  } else {
    for (let i = 0; i < SYNTH.tracks; i++) {
      const name = `track-${i + 1}`;
      const synth = { seed: 1000 + i * 7919, seconds: SYNTH.seconds, sampleRate: SYNTH.sampleRate };
      const windows = Math.ceil((SYNTH.seconds * SYNTH.sampleRate) / Math.round(WINDOW_SECONDS * SYNTH.sampleRate));
      tracks.push({ name, windows, input: { name, source: { synth }, workDir: options.workDir, windowSeconds: WINDOW_SECONDS } });
    }
  }
  const faults = options.faults ? placeFaults(tracks) : [];
  for (const f of faults) {
    const track = tracks.find((t) => t.name === f.track)!;
    track.input.faults = { ...((track.input.faults as { [k: string]: Json } | undefined) ?? {}), [String(f.window)]: f.fault };
  }
  return { tracks, faults, crash: options.faults };
}

/**
 * The spinning window goes first (track 1, window 0: claimed at once, so its timeout is seen early and the crash
 * can come after it); the other two spread over the run, on other tracks when there are.
 */
function placeFaults(tracks: PlannedTrack[]): PlannedFault[] {
  const all = tracks.flatMap((t) => Array.from({ length: t.windows }, (_, w) => ({ track: t.name, window: w })));
  if (all.length < 3) {
    throw new UsageError('VIGIL_INVALID_INPUT', `the input gives ${all.length} window(s) of ${WINDOW_SECONDS} s; the injected faults need 3 (give longer audio, or --no-faults)`);
  }
  const pick = (trackIndex: number, window: number, fallback: number): { track: string; window: number } => {
    const t = tracks[trackIndex];
    if (t && window < t.windows) return { track: t.name, window };
    return all[fallback]!;
  };
  return [
    { fault: 'spin', ...all[0]! },
    { fault: 'prompt', ...pick(1, 3, Math.floor(all.length / 3)) },
    { fault: 'corrupt', ...pick(2, 5, Math.floor((2 * all.length) / 3)) },
  ];
}
