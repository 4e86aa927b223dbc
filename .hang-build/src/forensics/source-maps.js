import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
export class SourceMapper {
    scripts;
    maps = new Map();
    constructor(scripts) {
        this.scripts = scripts;
    }
    /** lineNumber/columnNumber are 0-based (CDP); the frame's line/column are 1-based like Error stacks. */
    frame(functionName, scriptId, url, lineNumber, columnNumber) {
        const script = this.scripts.get(scriptId);
        const scriptUrl = url || script?.url || '';
        const generated = {
            functionName: functionName || '(anonymous)',
            file: displayPath(scriptUrl) || `<script ${scriptId}>`,
            line: lineNumber + 1,
            column: columnNumber + 1,
        };
        const map = script ? this.mapOf(scriptId, script, scriptUrl) : null;
        if (!map)
            return generated;
        try {
            const entry = map.findEntry(lineNumber, columnNumber);
            if (typeof entry.originalSource !== 'string' || typeof entry.originalLine !== 'number')
                return generated;
            return {
                functionName: generated.functionName,
                file: displayPath(resolveSource(entry.originalSource, scriptUrl)),
                line: entry.originalLine + 1,
                column: (entry.originalColumn ?? 0) + 1,
            };
        }
        catch {
            return generated;
        }
    }
    mapOf(scriptId, script, scriptUrl) {
        if (this.maps.has(scriptId))
            return this.maps.get(scriptId) ?? null;
        let map = null;
        try {
            const payload = loadPayload(script.sourceMapURL, scriptUrl);
            if (payload)
                map = new SourceMap(payload);
        }
        catch {
            map = null;
        }
        this.maps.set(scriptId, map);
        return map;
    }
}
function loadPayload(sourceMapURL, scriptUrl) {
    if (!sourceMapURL)
        return null;
    if (sourceMapURL.startsWith('data:')) {
        const comma = sourceMapURL.indexOf(',');
        const meta = sourceMapURL.slice(5, comma);
        const body = sourceMapURL.slice(comma + 1);
        const text = meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
        return JSON.parse(text);
    }
    if (!scriptUrl.startsWith('file:'))
        return null;
    const mapUrl = new URL(sourceMapURL, scriptUrl);
    if (mapUrl.protocol !== 'file:')
        return null;
    return JSON.parse(readFileSync(mapUrl, 'utf8'));
}
function resolveSource(source, scriptUrl) {
    if (/^[a-z]+:/i.test(source) || source.startsWith('/'))
        return source;
    try {
        return new URL(source, scriptUrl).href;
    }
    catch {
        return source;
    }
}
/** file:///a/b.ts → /a/b.ts; anything else as is. */
export function displayPath(url) {
    if (!url.startsWith('file:'))
        return url;
    try {
        return fileURLToPath(url);
    }
    catch {
        return url;
    }
}
//# sourceMappingURL=source-maps.js.map