import { closeSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../errors.js';

/**
 * Checks a `--input` file before anything is submitted, so a wrong path or a non-WAV file is a usage error (exit
 * 2) with the file named, not a failed job later. The pipeline's own reader lives in examples/highlights/wav.ts.
 */
export function wavFrames(path: string): { frames: number; sampleRate: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new UsageError('VIGIL_INVALID_INPUT', `--input ${path}: cannot open it (${(err as NodeJS.ErrnoException).code ?? String(err)}); give a 16-bit PCM WAV file`, { cause: err });
  }
  const bad = (problem: string): UsageError => new UsageError('VIGIL_INVALID_INPUT', `--input ${path}: ${problem}; give a 16-bit PCM WAV file`);
  try {
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') throw bad('not a RIFF/WAVE file');
    let offset = 12;
    let fmt: { channels: number; sampleRate: number; bits: number; format: number } | null = null;
    const chunk = Buffer.alloc(8);
    for (let i = 0; i < 64; i++) {
      if (readSync(fd, chunk, 0, 8, offset) < 8) break;
      const id = chunk.toString('ascii', 0, 4);
      const size = chunk.readUInt32LE(4);
      if (id === 'fmt ') {
        const body = Buffer.alloc(16);
        readSync(fd, body, 0, 16, offset + 8);
        fmt = { format: body.readUInt16LE(0), channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
      } else if (id === 'data') {
        if (!fmt || (fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16 || fmt.channels < 1) {
          throw bad(fmt ? `format ${fmt.format}, ${fmt.bits} bits per sample is not supported` : 'no "fmt " chunk before the data');
        }
        return { frames: Math.floor(size / (2 * fmt.channels)), sampleRate: fmt.sampleRate };
      }
      offset += 8 + size + (size % 2);
    }
    throw bad('no "data" chunk');
  } finally {
    closeSync(fd);
  }
}
