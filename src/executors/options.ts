import { VigilError } from '../errors.js';

/** An executor option that must be a positive integer (ms, counts); `fallback` when not given. */
export function positiveInt(owner: string, value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new VigilError('VIGIL_USAGE', `${owner}: option "${name}" must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}
