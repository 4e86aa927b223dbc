import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { StackFrame } from '../types.js';

/**
 * Maps positions in the code V8 runs back to the source the user wrote. tsx hands V8 transpiled code with an inline
 * `data:` source map, and tsc builds (dist) point to a `.js.map` next to the file; both arrive as the
 * `sourceMapURL` of `Debugger.scriptParsed`. Node's built-in SourceMap is used rather than the `source-map`
 * package: it is synchronous and needs no WebAssembly start-up inside a time-bounded capture.
 */

export interface ScriptInfo {
  url: string;
  sourceMapURL: string;
}

export class SourceMapper {
  private readonly maps = new Map<string, SourceMap | null>();

  constructor(private readonly scripts: ReadonlyMap<string, ScriptInfo>) {}

  /** lineNumber/columnNumber are 0-based (CDP); the frame's line/column are 1-based like Error stacks. */
  frame(functionName: string, scriptId: string, url: string, lineNumber: number, columnNumber: number): StackFrame {
    const script = this.scripts.get(scriptId);
    const scriptUrl = url || script?.url || '';
    const generated: StackFrame = {
      functionName: functionName || '(anonymous)',
      file: displayPath(scriptUrl) || `<script ${scriptId}>`,
      line: lineNumber + 1,
      column: columnNumber + 1,
    };
    const map = script ? this.mapOf(scriptId, script, scriptUrl) : null;
    if (!map) return generated;
    try {
      const entry = map.findEntry(lineNumber, columnNumber) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
      if (typeof entry.originalSource !== 'string' || typeof entry.originalLine !== 'number') return generated;
      return {
        functionName: generated.functionName,
        file: displayPath(resolveSource(entry.originalSource, scriptUrl)),
        line: entry.originalLine + 1,
        column: (entry.originalColumn ?? 0) + 1,
      };
    } catch {
      return generated;
    }
  }

  private mapOf(scriptId: string, script: ScriptInfo, scriptUrl: string): SourceMap | null {
    if (this.maps.has(scriptId)) return this.maps.get(scriptId) ?? null;
    let map: SourceMap | null = null;
    try {
      const payload = loadPayload(script.sourceMapURL, scriptUrl);
      if (payload) map = new SourceMap(payload);
    } catch {
      map = null;
    }
    this.maps.set(scriptId, map);
    return map;
  }
}

function loadPayload(sourceMapURL: string, scriptUrl: string): SourceMapPayload | null {
  if (!sourceMapURL) return null;
  if (sourceMapURL.startsWith('data:')) {
    const comma = sourceMapURL.indexOf(',');
    const meta = sourceMapURL.slice(5, comma);
    const body = sourceMapURL.slice(comma + 1);
    const text = meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
    return JSON.parse(text) as SourceMapPayload;
  }
  if (!scriptUrl.startsWith('file:')) return null;
  const mapUrl = new URL(sourceMapURL, scriptUrl);
  if (mapUrl.protocol !== 'file:') return null;
  return JSON.parse(readFileSync(mapUrl, 'utf8')) as SourceMapPayload;
}

function resolveSource(source: string, scriptUrl: string): string {
  if (/^[a-z]+:/i.test(source) || source.startsWith('/')) return source;
  try {
    return new URL(source, scriptUrl).href;
  } catch {
    return source;
  }
}

/** file:///a/b.ts → /a/b.ts; anything else as is. */
export function displayPath(url: string): string {
  if (!url.startsWith('file:')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}
