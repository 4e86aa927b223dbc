import { closeSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';

/**
 * Just enough WAV: 16-bit PCM, any channel count (mixed down to mono on read). Windows are read straight from the
 * file at their byte offset, so a chunk task never loads the whole track and its job input stays a few bytes.
 */

export interface WavInfo {
  sampleRate: number;
  channels: number;
  /** Sample frames (one sample per channel). */
  frames: number;
  dataOffset: number;
  seconds: number;
}

export class WavFormatError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem} (expected a 16-bit PCM WAV file)`);
    this.name = 'WavFormatError';
  }
}

export function readWavInfo(path: string): WavInfo {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
      throw new WavFormatError(path, 'not a RIFF/WAVE file');
    }
    let offset = 12;
    let fmt: { format: number; channels: number; sampleRate: number; bits: number } | null = null;
    const chunk = Buffer.alloc(8);
    for (;;) {
      if (readSync(fd, chunk, 0, 8, offset) < 8) throw new WavFormatError(path, 'no "data" chunk');
      const id = chunk.toString('ascii', 0, 4);
      const size = chunk.readUInt32LE(4);
      if (id === 'fmt ') {
        const body = Buffer.alloc(16);
        readSync(fd, body, 0, 16, offset + 8);
        fmt = { format: body.readUInt16LE(0), channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
      } else if (id === 'data') {
        if (!fmt) throw new WavFormatError(path, '"data" before "fmt "');
        // 0xFFFE (WAVE_FORMAT_EXTENSIBLE) carries plain PCM too in the files tools write.
        if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) {
          throw new WavFormatError(path, `format ${fmt.format} with ${fmt.bits} bits per sample is not supported`);
        }
        if (fmt.channels < 1 || fmt.sampleRate < 1000) throw new WavFormatError(path, `${fmt.channels} channels at ${fmt.sampleRate} Hz`);
        const frames = Math.floor(size / (2 * fmt.channels));
        return { sampleRate: fmt.sampleRate, channels: fmt.channels, frames, dataOffset: offset + 8, seconds: frames / fmt.sampleRate };
      }
      offset += 8 + size + (size % 2); // chunks are word-aligned
    }
  } finally {
    closeSync(fd);
  }
}

/** Frames [start, start + count) mixed down to mono, as floats in -1..1. */
export function readWavWindow(path: string, info: WavInfo, start: number, count: number): Float64Array {
  const n = Math.max(0, Math.min(count, info.frames - start));
  const bytes = Buffer.alloc(n * 2 * info.channels);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, bytes, 0, bytes.length, info.dataOffset + start * 2 * info.channels);
  } finally {
    closeSync(fd);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < info.channels; c++) sum += bytes.readInt16LE((i * info.channels + c) * 2);
    out[i] = sum / info.channels / 32768;
  }
  return out;
}

/** Writes mono 16-bit PCM atomically (temp file + rename): a re-run parent never exposes a half-written track. */
export function writeWavMono(path: string, samples: Float64Array, sampleRate: number): void {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32767))), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([header, data]));
  renameSync(tmp, path);
}
