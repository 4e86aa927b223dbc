import { UsageError } from '../errors.js';
import type { Json } from '../types.js';

/**
 * Inputs and results travel as JSON. JSON.stringify changes many values without a word (NaN → null, a Map → {},
 * a function → gone, a Date → a string, a Buffer → {type,data}), so a job would run on data its caller never
 * sent. This check rejects every such value and names where it is, before anything is stored.
 */
export class PayloadError extends UsageError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super('VIGIL_INVALID_INPUT', `${path}: ${problem}`);
    this.name = 'PayloadError';
  }
}

/** Deeper than this is almost surely a bug, and recursing further would risk the stack. */
const MAX_DEPTH = 256;

/**
 * Returns `value` typed as Json when JSON would carry it faithfully; throws a PayloadError naming the path
 * (`root` is its first segment: "input", "result") otherwise. Object properties that are `undefined` are allowed:
 * they read back as absent, which is what `undefined` means.
 */
export function checkPayload(value: unknown, root: string): Json {
  walk(value, root, [], 0);
  return value as Json;
}

/** Like checkPayload, but returns the problem instead of throwing (for the task runner, which reports it). */
export function payloadProblem(value: unknown, root: string): PayloadError | null {
  try {
    checkPayload(value, root);
    return null;
  } catch (err) {
    if (err instanceof PayloadError) return err;
    throw err;
  }
}

function walk(value: unknown, path: string, ancestors: object[], depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      throw new PayloadError(path, `${String(value)} is not JSON; use null or a string such as "${String(value)}" (JSON would store null)`);
    case 'bigint':
      throw new PayloadError(path, 'a BigInt is not JSON; convert it with String(n), or Number(n) when it is small enough');
    case 'function':
      throw new PayloadError(path, 'a function is not JSON; pass data and look the function up in the task (JSON would drop it)');
    case 'symbol':
      throw new PayloadError(path, 'a Symbol is not JSON; use a string (JSON would drop it)');
    case 'undefined':
      throw new PayloadError(path, 'undefined is not JSON; use null');
    case 'object':
      break;
  }
  if (value === null) return;
  const obj = value as object;
  if (depth >= MAX_DEPTH) throw new PayloadError(path, `nesting deeper than ${MAX_DEPTH} levels is refused; flatten the data`);
  if (ancestors.includes(obj)) throw new PayloadError(path, 'a cycle is not JSON (this object contains itself); pass a tree');
  const problem = notPlain(obj);
  if (problem) throw new PayloadError(path, problem);
  ancestors.push(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const at = `${path}[${i}]`;
      if (!(i in obj)) throw new PayloadError(at, 'a hole in a sparse array is not JSON; fill it with null (JSON would store null)');
      const item: unknown = obj[i];
      if (item === undefined) throw new PayloadError(at, 'undefined in an array is not JSON; use null (JSON would store null)');
      walk(item, at, ancestors, depth + 1);
    }
  } else {
    for (const key of Object.keys(obj)) {
      const item: unknown = (obj as Record<string, unknown>)[key];
      if (item === undefined) continue;
      walk(item, `${path}${segment(key)}`, ancestors, depth + 1);
    }
  }
  ancestors.pop();
}

/** Why an object is not a plain object or array, or null when it is one. */
function notPlain(obj: object): string | null {
  if (Array.isArray(obj)) return Object.getPrototypeOf(obj) === Array.prototype ? null : 'an array subclass is not JSON; use a plain array';
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto === Object.prototype || proto === null) return null;
  if (obj instanceof Map) return 'a Map is not JSON; convert it with Object.fromEntries(map) (JSON would store {})';
  if (obj instanceof Set) return 'a Set is not JSON; convert it with [...set] (JSON would store {})';
  if (obj instanceof Date) return 'a Date is not JSON; pass date.toISOString() or date.getTime() (JSON would turn it into a string)';
  if (Buffer.isBuffer(obj)) return "a Buffer is not JSON; pass buf.toString('base64'), or a file path for large data (JSON would store {type,data})";
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return 'binary data is not JSON; pass Array.from(bytes), a base64 string, or a file path for large data';
  if (obj instanceof RegExp) return 'a RegExp is not JSON; pass its source string (JSON would store {})';
  if (obj instanceof Error) return 'an Error is not JSON; pass { message: err.message } (JSON would store {})';
  if (obj instanceof Promise) return 'a Promise is not JSON; await it first';
  const name = (obj.constructor as { name?: unknown } | undefined)?.name;
  const what = typeof name === 'string' && name !== '' ? `a ${name} instance` : 'an object with a custom prototype';
  return `${what} is not JSON; pass a plain object such as { ...value } or value.toJSON() (JSON would lose its class)`;
}

function segment(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
