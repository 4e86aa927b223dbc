const MAX_MESSAGE = 16 * 1024;
const MAX_STACK = 32 * 1024;
const MAX_CAUSE_DEPTH = 5;
/** Turns anything thrown into a storable error, keeping message, stack, code and the cause chain. */
export function serializeError(err, kind = 'error', depth = 0) {
    if (err instanceof Error) {
        const e = err;
        const out = {
            kind: isKind(e.vigilKind) ? e.vigilKind : kind,
            name: e.name,
            message: cut(String(e.message), MAX_MESSAGE),
        };
        if (e.stack)
            out.stack = cut(e.stack, MAX_STACK);
        if (typeof e.code === 'string' || typeof e.code === 'number')
            out.code = String(e.code);
        if (e.retryable === false)
            out.retryable = false;
        if (e.details && typeof e.details === 'object')
            out.details = toJson(e.details);
        if (e.cause !== undefined && depth < MAX_CAUSE_DEPTH)
            out.cause = serializeError(e.cause, kind, depth + 1);
        return out;
    }
    if (err && typeof err === 'object' && typeof err.message === 'string') {
        return { kind, message: cut(err.message, MAX_MESSAGE) };
    }
    return { kind, message: cut(`non-error thrown: ${safeString(err)}`, MAX_MESSAGE) };
}
function isKind(value) {
    return value === 'children';
}
function cut(text, max) {
    return text.length > max ? `${text.slice(0, max)}…[cut ${text.length - max} chars]` : text;
}
function safeString(value) {
    try {
        return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
    }
    catch {
        return String(value);
    }
}
function toJson(value) {
    try {
        return JSON.parse(JSON.stringify(value));
    }
    catch {
        return null;
    }
}
//# sourceMappingURL=serialize.js.map