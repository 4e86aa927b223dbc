import type { Json } from '../types.js';
/**
 * Reads `--input`: inline JSON, `@path` (a JSON file) or `@-` (JSON on stdin). Invalid JSON is a usage error whose
 * message points at the broken character, so the user fixes it without guessing; nothing is submitted.
 */
export declare function readInput(spec: string | undefined, option?: string): Json;
/** "line L, column C" and the line with a caret under the offending character. */
export declare function pointAt(text: string, offset: number): string;
/**
 * Offset of the first character that makes `text` invalid JSON (text.length when it ends too early). V8's own
 * messages do not always carry a position, so this walks the grammar itself.
 */
export declare function errorOffset(text: string): number;
