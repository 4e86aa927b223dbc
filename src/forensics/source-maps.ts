import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { StackFrame } from '../types.js';

/**
 * Maps positions in the code V8 runs back to the source the user wrote. tsx hands V8 transpiled code with an inline
 * `data:` source map, and tsc builds (dist) point to a `.js.map` next to the file; both arrive as the
 * `sourceMapURL` of `Debugger.scriptParsed` (when the capture enables the debugger), and a file on disk names its map
 * in a `sourceMappingURL` comment. Node's built-in SourceMap is used rather than the `source-map`
 * package: it is synchronous and needs no WebAssembly start-up inside a time-bounded capture.
 */

export interface ScriptInfo {
  url: string;
  sourceMapURL: string;
}

export class SourceMapper {
  private readonly maps = new Map<string, SourceMap | null>();
  private readonly byPath = new Map<string, ScriptInfo>();

  /** Scripts as `Debugger.scriptParsed` listed them; looked up by path, since a CallSite names its script by URL. */
  constructor(scripts: Iterable<ScriptInfo>) {
    for (const script of scripts) if (script.url) this.byPath.set(displayPath(script.url), script);
  }

  /** line/column are 1-based, as a V8 CallSite gives them (and as the frame keeps them). */
  frame(functionName: string, url: string, line: number, column: number): StackFrame {
    const generated: StackFrame = { functionName: functionName || '(anonymous)', file: displayPath(url) || '<anonymous script>', line, column };
    const script = this.byPath.get(generated.file) ?? this.fromDisk(url);
    const map = script ? this.mapOf(script) : null;
    if (!map) return generated;
    try {
      const entry = map.findEntry(line - 1, column - 1) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
      if (typeof entry.originalSource !== 'string' || typeof entry.originalLine !== 'number') return generated;
      return {
        functionName: generated.functionName,
        file: displayPath(resolveSource(entry.originalSource, script!.url)),
        line: entry.originalLine + 1,
        column: (entry.originalColumn ?? 0) + 1,
      };
    } catch {
      return generated;
    }
  }

  /** Whether positions in this script can be mapped (its source map is known and readable). */
  canMap(url: string): boolean {
    const script = this.byPath.get(displayPath(url)) ?? this.fromDisk(url);
    return script !== undefined && this.mapOf(script) !== null;
  }

  /**
   * A script no scriptParsed listed (the capture no longer enables the debugger): a file on disk names its source map
   * in its last `sourceMappingURL` comment (tsc's dist). Read once per file; a file without one maps to itself.
   */
  private fromDisk(url: string): ScriptInfo | undefined {
    if (!url.startsWith('file:') && !url.startsWith('/')) return undefined;
    const fileUrl = url.startsWith('/') ? `file://${url}` : url;
    const path = displayPath(fileUrl);
    if (this.byPath.has(path)) return this.byPath.get(path);
    let script: ScriptInfo | undefined;
    try {
      const text = readFileSync(fileURLToPath(fileUrl), 'utf8');
      const match = /\/\/[#@] sourceMappingURL=(\S+)\s*$/.exec(text.slice(-4096));
      if (match) script = { url: fileUrl, sourceMapURL: match[1]! };
    } catch {
      script = undefined;
    }
    if (script) this.byPath.set(path, script);
    return script;
  }

  private mapOf(script: ScriptInfo): SourceMap | null {
    if (this.maps.has(script.url)) return this.maps.get(script.url) ?? null;
    let map: SourceMap | null = null;
    try {
      const payload = loadPayload(script.sourceMapURL, script.url);
      if (payload) map = new SourceMap(payload);
    } catch {
      map = null;
    }
    this.maps.set(script.url, map);
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
