/**
 * Deterministic test tracks: sections of a few seconds, each with its own loudness, pitch and amount of bright
 * noise, so "loudest" and "brightest" windows are different places and the expected highlights are known.
 */

export interface SynthSpec {
  seed: number;
  seconds: number;
  sampleRate: number;
}

/** mulberry32: tiny seeded PRNG, so the same seed gives the same track on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function synthesiseTrack(spec: SynthSpec): Float64Array {
  const rand = prng(spec.seed);
  const total = Math.round(spec.seconds * spec.sampleRate);
  const out = new Float64Array(total);
  const sectionLen = Math.round(1.5 * spec.sampleRate);
  let phase = 0;
  let lowpass = 0;
  for (let start = 0; start < total; start += sectionLen) {
    const loud = 0.05 + 0.45 * rand() ** 1.5;
    // About a third of the sections are hissy (bright); the rest are tones with a little rumble (dark).
    const noise = rand() < 0.35 ? 0.2 + 0.5 * rand() : 0.02 * rand();
    const f0 = 110 * 2 ** (Math.floor(rand() * 24) / 12);
    const harmonics = 1 + Math.floor(rand() * 6);
    const end = Math.min(total, start + sectionLen);
    for (let i = start; i < end; i++) {
      const t = (i - start) / spec.sampleRate;
      // A soft attack and decay per section: envelopes make RMS vary inside a window, like music does.
      const env = Math.min(1, t * 20) * Math.exp(-t * 0.8);
      phase += (2 * Math.PI * f0) / spec.sampleRate;
      let tone = 0;
      for (let h = 1; h <= harmonics; h++) tone += Math.sin(phase * h) / h;
      const white = rand() * 2 - 1;
      lowpass += 0.05 * (white - lowpass);
      // Bright sections get white noise (energy up high); dark ones only low-passed rumble.
      const hiss = noise * (white - lowpass);
      out[i] = Math.max(-1, Math.min(1, loud * env * (0.6 * tone + hiss) + 0.02 * lowpass));
    }
  }
  return out;
}
