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
export declare class SourceMapper {
    private readonly scripts;
    private readonly maps;
    constructor(scripts: ReadonlyMap<string, ScriptInfo>);
    /** lineNumber/columnNumber are 0-based (CDP); the frame's line/column are 1-based like Error stacks. */
    frame(functionName: string, scriptId: string, url: string, lineNumber: number, columnNumber: number): StackFrame;
    private mapOf;
}
/** file:///a/b.ts → /a/b.ts; anything else as is. */
export declare function displayPath(url: string): string;
