import { magnitudeSpectrum } from './fft.js';

/** Per-window audio features from overlapping Hann-windowed frames. */

export interface WindowFeatures {
  /** Root mean square of the samples, in dBFS (0 = full scale). */
  rmsDb: number;
  /** Loudest frame's RMS, dBFS: a short burst can make a window exciting. */
  peakFrameDb: number;
  /** Spectral centroid (power-weighted) in Hz, averaged over frames weighted by their energy: "brightness". */
  centroidHz: number;
  /** Frames whose spectral flux jumps above the local average: a rough count of note onsets. */
  onsets: number;
  frames: number;
}

const FRAME = 2048;
const HOP = 256;

function db(x: number): number {
  return x > 0 ? Math.max(-120, 20 * Math.log10(x)) : -120;
}

export function analyseWindow(samples: Float64Array, sampleRate: number): WindowFeatures {
  let sumSq = 0;
  for (const s of samples) sumSq += s * s;
  const rms = Math.sqrt(sumSq / Math.max(1, samples.length));

  const hann = new Float64Array(FRAME);
  for (let i = 0; i < FRAME; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (FRAME - 1));
  const frame = new Float64Array(FRAME);
  let weighted = 0;
  let weights = 0;
  let peakFrame = 0;
  let prev: Float64Array | null = null;
  const flux: number[] = [];
  let frames = 0;
  for (let start = 0; start + FRAME <= samples.length; start += HOP) {
    let frameSq = 0;
    for (let i = 0; i < FRAME; i++) {
      const s = samples[start + i]!;
      frameSq += s * s;
      frame[i] = s * hann[i]!;
    }
    peakFrame = Math.max(peakFrame, Math.sqrt(frameSq / FRAME));
    const mag = magnitudeSpectrum(frame);
    let num = 0;
    let den = 0;
    let fl = 0;
    for (let k = 1; k < mag.length; k++) {
      const m = mag[k]!;
      // Power-weighted: with plain magnitudes, faint broadband hiss (thousands of small bins) outweighs a loud tone.
      num += m * m * ((k * sampleRate) / FRAME);
      den += m * m;
      if (prev) fl += Math.max(0, m - prev[k]!);
    }
    if (den > 0) {
      weighted += (num / den) * frameSq;
      weights += frameSq;
    }
    flux.push(fl);
    prev = mag;
    frames++;
  }
  let onsets = 0;
  for (let i = 1; i < flux.length; i++) {
    const from = Math.max(0, i - 8);
    const local = flux.slice(from, i).reduce((a, b) => a + b, 0) / (i - from);
    if (flux[i]! > 2 * local && flux[i]! > flux[i - 1]!) onsets++;
  }
  return {
    rmsDb: round1(db(rms)),
    peakFrameDb: round1(db(peakFrame)),
    centroidHz: Math.round(weights > 0 ? weighted / weights : 0),
    onsets,
    frames,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
