import { StringDecoder } from 'node:string_decoder';
/** Longest line kept: a task printing a 100 MB line without a newline must not hold 100 MB in the host. */
export const MAX_LINE_BYTES = 8 * 1024;
/**
 * Written by the runner to its own stdout and stderr after an attempt, before reporting the end: the host holds the
 * end back until it has read this marker on both streams, so console output printed just before `return` is
 * attributed to the right attempt (thread stdout and the message port are separate channels with no ordering).
 */
export const END_MARKER = '\u0000vigil:attempt-end\u0000\n';
const MARKER_TEXT = END_MARKER.slice(0, -1);
/**
 * Splits a byte stream into lines, bounded in memory: a line longer than MAX_LINE_BYTES is emitted cut, and the
 * rest of it (up to its newline) is dropped.
 */
export class LineSplitter {
    emit;
    onMarker;
    decoder = new StringDecoder('utf8');
    buffer = '';
    dropping = false;
    constructor(emit, onMarker) {
        this.emit = emit;
        this.onMarker = onMarker;
    }
    write(chunk) {
        const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
        let start = 0;
        for (;;) {
            const nl = text.indexOf('\n', start);
            if (nl === -1)
                break;
            this.line(this.buffer + text.slice(start, nl));
            this.buffer = '';
            start = nl + 1;
        }
        if (start < text.length)
            this.append(text.slice(start));
    }
    /** Emits a pending partial line (the stream ended or the attempt is over). */
    flush() {
        const rest = this.buffer + this.decoder.end();
        this.buffer = '';
        if (rest.length > 0 && !this.dropping)
            this.emitLine(rest);
        this.dropping = false;
    }
    append(text) {
        if (this.dropping)
            return;
        this.buffer += text;
        if (this.buffer.length > MAX_LINE_BYTES) {
            this.emitLine(this.buffer);
            this.buffer = '';
            this.dropping = true;
        }
    }
    line(line) {
        if (this.onMarker && line.endsWith(MARKER_TEXT)) {
            const before = line.slice(0, -MARKER_TEXT.length);
            if (before.length > 0 && !this.dropping)
                this.emitLine(before);
            this.dropping = false;
            this.onMarker();
            return;
        }
        if (this.dropping) {
            this.dropping = false;
            return;
        }
        this.emitLine(line);
    }
    emitLine(line) {
        this.emit(line.length > MAX_LINE_BYTES ? `${line.slice(0, MAX_LINE_BYTES)}…[line cut at ${MAX_LINE_BYTES} chars]` : line);
    }
}
//# sourceMappingURL=ipc.js.map