import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { importModule } from '../task/registry.js';
import { packageRoot } from './paths.js';

/** The part of examples/highlights/wav.ts used here (that file is loaded at run time, not compiled with src). */
interface WavModule {
  readWavInfo(path: string): { frames: number; sampleRate: number };
}

/**
 * Checks a `--input` file before anything is submitted, so a wrong path or a non-WAV file is a usage error (exit
 * 2) with the file named, not a failed job later. It uses the pipeline's own reader (examples/highlights/wav.ts),
 * so the check and the tasks can never disagree on what a readable WAV file is.
 */
export async function wavFrames(path: string): Promise<{ frames: number; sampleRate: number }> {
  const { readWavInfo } = await importModule<WavModule>(join(packageRoot(), 'examples', 'highlights', 'wav.ts'));
  try {
    const { frames, sampleRate } = readWavInfo(path);
    return { frames, sampleRate };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The reader's own message already names the file and the expected format.
    const message = code ? `--input ${path}: cannot open it (${code}); give a 16-bit PCM WAV file` : `--input ${err instanceof Error ? err.message : String(err)}`;
    throw new UsageError('VIGIL_INVALID_INPUT', message, { cause: err });
  }
}
