import type { Json, SerializedError } from '../types.js';

/**
 * Per-job size limits (issue #13): one job must not be able to fill the store or the supervisor's memory. Inputs
 * submitted through the API are limited by Vigil.open({ maxPayloadBytes }) (1 MiB); logs by the line cut (8 KiB) and
 * the lines kept per job (10,000). These cover what a running task hands back.
 */

/** A task's return value, as JSON. */
export const MAX_RESULT_BYTES = 8 * 1024 * 1024;
/** The input of one child created with ctx.spawn, as JSON (the API's default for submitted inputs). */
export const MAX_CHILD_INPUT_BYTES = 1024 * 1024;

/** Null when `value` is within `limit` bytes of JSON; else the size. */
export function overLimit(value: unknown, limit: number): number | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return null;
  }
  if (text === undefined || text.length <= limit / 3) return null;
  const bytes = Buffer.byteLength(text);
  return bytes > limit ? bytes : null;
}

export function resultTooLarge(task: string, bytes: number): SerializedError {
  return {
    kind: 'error',
    code: 'VIGIL_PAYLOAD_TOO_LARGE',
    retryable: false,
    message: `the result of task "${task}" is ${bytes} bytes of JSON, over the limit of ${MAX_RESULT_BYTES}: store large results elsewhere (a file, object storage) and return a reference`,
  };
}

export function checkChildInput(task: string, input: Json): void {
  const bytes = overLimit(input, MAX_CHILD_INPUT_BYTES);
  if (bytes !== null) {
    throw Object.assign(new Error(`the input of child task "${task}" is ${bytes} bytes of JSON, over the limit of ${MAX_CHILD_INPUT_BYTES}: pass a file path or URL instead of the data`), {
      code: 'VIGIL_PAYLOAD_TOO_LARGE',
      retryable: false,
    });
  }
}
