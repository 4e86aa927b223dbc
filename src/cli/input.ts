import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Json } from '../types.js';

/**
 * Reads `--input`: inline JSON, `@path` (a JSON file) or `@-` (JSON on stdin). Invalid JSON is a usage error whose
 * message points at the broken character, so the user fixes it without guessing; nothing is submitted.
 */
export function readInput(spec: string | undefined, option = '--input'): Json {
  if (spec === undefined) return null;
  let text = spec;
  let source = option;
  if (spec.startsWith('@')) {
    const path = spec.slice(1);
    source = path === '-' ? `${option} @- (stdin)` : `${option} file ${path}`;
    try {
      text = readFileSync(path === '-' ? 0 : path, 'utf8');
    } catch (err) {
      throw new UsageError('VIGIL_INVALID_INPUT', `${option}: cannot read ${path === '-' ? 'stdin' : path}: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new UsageError('VIGIL_INVALID_INPUT', `${source} is not valid JSON: ${(err as Error).message}\n${pointAt(text, errorOffset(text))}\n(nothing was submitted)`, {
      cause: err,
    });
  }
}

/** "line L, column C" and the line with a caret under the offending character. */
export function pointAt(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  const column = offset - lineStart + 1;
  // Long lines are cut around the error so the caret stays on screen.
  const from = Math.max(lineStart, offset - 60);
  const to = Math.min(lineEnd, offset + 20);
  const excerpt = `${from > lineStart ? '…' : ''}${text.slice(from, to)}${to < lineEnd ? '…' : ''}`;
  const caret = ' '.repeat(offset - from + (from > lineStart ? 1 : 0)) + '^';
  return `  at line ${line}, column ${column}:\n    ${excerpt}\n    ${caret}`;
}

/**
 * Offset of the first character that makes `text` invalid JSON (text.length when it ends too early). V8's own
 * messages do not always carry a position, so this walks the grammar itself.
 */
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

export function errorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) if (text[i++] !== ch) (i--, fail());
  };
  const string = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) (i += k, fail());
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x') || i >= text.length) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = (): void => {
    // Sticky, not a slice per number: a huge input full of numbers stays linear.
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return Math.min(at, text.length);
    // Nested deeper than this walk's stack (JSON.parse itself has no such limit): such text is almost always cut
    // short, so the end is where it broke.
    if (at instanceof RangeError) return text.length;
    throw at;
  }
  return text.length;
}

/** True when `--input` names an NDJSON file (`@jobs.ndjson`, `@jobs.jsonl`): one job input per line. */
export function isManyInputs(spec: string | undefined): boolean {
  return spec !== undefined && /^@.+\.(ndjson|jsonl)$/i.test(spec);
}

/**
 * Reads `--input @file.ndjson`: one JSON value per non-blank line. A broken line is a usage error naming its line
 * and column; nothing is submitted.
 */
export function readManyInputs(spec: string, option = '--input'): Json[] {
  const path = spec.slice(1);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError('VIGIL_INVALID_INPUT', `${option}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const out: Json[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as Json);
    } catch (err) {
      const at = pointAt(line, errorOffset(line)).replace('at line 1,', `at line ${n + 1},`);
      throw new UsageError('VIGIL_INVALID_INPUT', `${option} file ${path}, line ${n + 1} is not valid JSON: ${(err as Error).message}\n${at}\n(nothing was submitted)`, { cause: err });
    }
  }
  return out;
}
