import { format } from 'node:util';
import { ChildrenFailedError } from '../errors.js';
import { loadTasks, requireTask } from '../task/registry.js';
import { serializeError } from '../task/serialize.js';
import { MAX_LINE_BYTES } from './ipc.js';
// Module specifiers in variables: these modules are written by other parts of Vigil and loaded only when used.
const EXEC_MODULE = './exec.js';
const PENDING_MODULE = '../forensics/pending.js';
export function serveRunner(port, hooks = {}) {
    let current = null;
    port.onMessage((message) => {
        switch (message.type) {
            case 'run': {
                if (current) {
                    // The supervisor runs one attempt per runner; a second one is a bug there, but it must still end.
                    const end = { type: 'threw', error: { kind: 'error', message: `runner busy with attempt ${current.spec.key}; attempt ${message.spec.key} was not started (internal error)` } };
                    port.post({ type: 'end', key: message.spec.key, end });
                    return;
                }
                const run = new AttemptRun(message.spec, port);
                current = run;
                void run.execute().then((end) => {
                    current = null;
                    hooks.beforeEnd?.(run.spec.key);
                    port.post({ type: 'end', key: run.spec.key, end });
                    hooks.afterEnd?.(run.spec.key, end);
                });
                return;
            }
            case 'abort':
                if (current?.spec.key === message.key)
                    current.abort(message.reason);
                return;
            case 'reply':
                if (current?.spec.key === message.key)
                    current.reply(message);
                return;
            case 'diagnose':
                void diagnose(message.id).then((reply) => port.post(reply));
                return;
        }
    });
}
async function diagnose(id) {
    try {
        const mod = (await import(PENDING_MODULE));
        return { type: 'diagnosis', id, resources: mod.collectPendingResources() };
    }
    catch (err) {
        return { type: 'diagnosis', id, resources: [], error: `pending resources unavailable: ${err instanceof Error ? err.message : String(err)}` };
    }
}
class AttemptRun {
    spec;
    port;
    controller = new AbortController();
    pending = new Map();
    nextId = 1;
    spawnCount = 0;
    spawnQueue = [];
    flushScheduled = false;
    /** key → the batch that creates it; the batch resolves with the job ids. */
    children = new Map();
    batches = [];
    constructor(spec, port) {
        this.spec = spec;
        this.port = port;
    }
    abort(reason) {
        if (this.controller.signal.aborted)
            return;
        const error = new Error(`attempt aborted: ${reason}`);
        error.name = 'AbortError';
        this.controller.abort(error);
    }
    reply(message) {
        const pending = this.pending.get(message.id);
        if (!pending)
            return;
        this.pending.delete(message.id);
        if (message.ok)
            pending.resolve(message.value);
        else
            pending.reject(message.error);
    }
    async execute() {
        const { spec } = this;
        let value;
        try {
            if (spec.command) {
                throw new Error(`task "${spec.task}" is a command task: it runs in the command executor, not in a function runner (internal error)`);
            }
            const task = requireTask(await loadTasks(spec.tasksModule), spec.task, spec.tasksModule);
            if (typeof task.run !== 'function') {
                throw new Error(`task "${spec.task}" is a command task: it runs in the command executor, not in a function runner (internal error)`);
            }
            value = await task.run(spec.input, this.context());
            await this.settleSpawns();
        }
        catch (err) {
            return { type: 'threw', error: serializeError(err) };
        }
        return toReturned(spec.task, value);
    }
    send(message) {
        this.port.post(message);
    }
    request(build) {
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve: resolve, reject });
            this.send(build(id));
        });
    }
    log(stream, text, ts = Date.now()) {
        for (const line of text.split('\n')) {
            const cut = line.length > MAX_LINE_BYTES ? `${line.slice(0, MAX_LINE_BYTES)}…[line cut at ${MAX_LINE_BYTES} chars]` : line;
            this.send({ type: 'log', key: this.spec.key, stream, line: cut, ts });
        }
    }
    context() {
        const { spec } = this;
        const key = spec.key;
        return {
            jobId: spec.jobId,
            attempt: spec.attempt,
            task: spec.task,
            signal: this.controller.signal,
            heartbeat: (details) => {
                this.send({ type: 'heartbeat', key, details: details === undefined ? undefined : jsonClone(details, 'ctx.heartbeat(details)') });
            },
            progress: (value, message) => {
                this.send({ type: 'progress', key, progress: toProgress(value, message) });
            },
            log: (...args) => this.log('log', format(...args)),
            spawn: (task, input, options) => this.spawn(task, input, options),
            all: (children, options) => this.all(children, options),
            exec: (argv, options) => this.exec(argv, options),
        };
    }
    spawn(task, input, options) {
        const name = typeof task === 'string' ? task : task?.options?.name;
        if (typeof name !== 'string' || name.length === 0) {
            throw new TypeError('ctx.spawn(task, input): task must be a task name or a definition returned by defineTask');
        }
        const index = this.spawnCount++;
        const key = options?.key ?? String(index);
        if (typeof key !== 'string' || key.length === 0)
            throw new TypeError(`ctx.spawn: options.key must be a non-empty string (got ${JSON.stringify(key)})`);
        if (this.children.has(key)) {
            throw new Error(`ctx.spawn: key "${key}" is already used by another child of this attempt; give each child a unique key`);
        }
        const request = { task: name, input: jsonClone(input, `ctx.spawn("${name}", input)`), key };
        this.spawnQueue.push(request);
        if (!this.flushScheduled) {
            this.flushScheduled = true;
            // Every spawn of this tick goes out as one batch: 1,000 spawns cost one round trip, not 1,000.
            setImmediate(() => this.flushSpawns());
        }
        this.children.set(key, this.currentBatch);
        return { key, task: name };
    }
    batchResolve = null;
    batchReject = null;
    get currentBatch() {
        if (!this.openBatch) {
            this.openBatch = new Promise((resolve, reject) => {
                this.batchResolve = resolve;
                this.batchReject = reject;
            });
            // A failed batch is reported by all() or at the end of the attempt, never as an unhandled rejection.
            this.openBatch.catch(() => undefined);
            this.batches.push(this.openBatch);
        }
        return this.openBatch;
    }
    openBatch = null;
    flushSpawns() {
        this.flushScheduled = false;
        if (this.spawnQueue.length === 0)
            return;
        const children = this.spawnQueue;
        const resolve = this.batchResolve;
        const reject = this.batchReject;
        this.spawnQueue = [];
        this.openBatch = null;
        this.request((id) => ({ type: 'spawn', key: this.spec.key, id, children })).then((spawned) => resolve(new Map(spawned.map((c) => [c.key, c.jobId]))), (error) => reject(rebuildError(error)));
    }
    async all(children, options) {
        if (!Array.isArray(children))
            throw new TypeError('ctx.all(children): children must be an array of values returned by ctx.spawn');
        this.flushSpawns();
        const resolved = [];
        for (const child of children) {
            const batch = child && this.children.get(child.key);
            if (!batch)
                throw new Error(`ctx.all: child "${child?.key}" was not spawned by this attempt (pass the values returned by ctx.spawn)`);
            const jobId = (await batch).get(child.key);
            if (!jobId)
                throw new Error(`ctx.all: the engine did not return a job for child "${child.key}" (internal error)`);
            resolved.push({ key: child.key, jobId });
        }
        const request = { children: resolved, policy: options?.policy ?? 'allSettled' };
        try {
            return await this.request((id) => ({ type: 'all', key: this.spec.key, id, request }));
        }
        catch (error) {
            throw rebuildError(error);
        }
    }
    /** Children spawned and never awaited must still exist before the attempt reports success. */
    async settleSpawns() {
        if (this.batches.length === 0)
            return;
        this.flushSpawns();
        await Promise.all(this.batches);
    }
    async exec(argv, options) {
        const mod = (await import(EXEC_MODULE));
        const key = this.spec.key;
        return mod.contextExec(argv, options, {
            signal: this.controller.signal,
            endsAt: this.spec.endsAt,
            log: (stream, line, ts) => {
                this.send({ type: 'log', key, stream, line, ts });
                this.send({ type: 'activity', key });
            },
            started: (pid) => this.send({ type: 'exec-started', key, pid }),
            ended: (pid) => this.send({ type: 'exec-ended', key, pid }),
        });
    }
}
function toReturned(task, value) {
    if (value === undefined)
        return { type: 'returned', value: null };
    let text;
    try {
        text = JSON.stringify(value);
    }
    catch (err) {
        return { type: 'threw', error: serializeError(new Error(`task "${task}" returned a value that is not JSON-serialisable (${err instanceof Error ? err.message : String(err)}); return plain objects, arrays, strings, numbers, booleans or null`, { cause: err })) };
    }
    if (text === undefined) {
        return { type: 'threw', error: serializeError(new Error(`task "${task}" returned a ${typeof value}, which is not JSON-serialisable; return plain objects, arrays, strings, numbers, booleans or null`)) };
    }
    return { type: 'returned', value: JSON.parse(text) };
}
function jsonClone(value, what) {
    if (value === undefined)
        return null;
    let text;
    try {
        text = JSON.stringify(value);
    }
    catch (err) {
        throw new TypeError(`${what}: the value is not JSON-serialisable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    if (text === undefined)
        throw new TypeError(`${what}: a ${typeof value} is not JSON-serialisable`);
    return JSON.parse(text);
}
function toProgress(value, message) {
    let progress;
    if (typeof value === 'number') {
        progress = { fraction: Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : null };
    }
    else if (value && typeof value === 'object' && typeof value.done === 'number' && typeof value.total === 'number') {
        const fraction = value.total > 0 && Number.isFinite(value.done / value.total) ? Math.min(1, Math.max(0, value.done / value.total)) : null;
        progress = { fraction, done: value.done, total: value.total };
    }
    else {
        throw new TypeError(`ctx.progress(value): value must be a fraction 0..1 or { done, total } (got ${JSON.stringify(value)})`);
    }
    if (message !== undefined)
        progress.message = String(message);
    return progress;
}
/** Turns an engine-side serialized error back into an Error the task can catch; `children` keeps its class. */
function rebuildError(error) {
    if (!error || typeof error !== 'object' || typeof error.message !== 'string') {
        return new Error(`engine request failed: ${String(error)}`);
    }
    const e = error;
    if (e.kind === 'children') {
        const raw = e.details?.failed;
        const failed = Array.isArray(raw)
            ? raw.filter((f) => !!f && typeof f === 'object' && !Array.isArray(f))
            : [];
        return new ChildrenFailedError(e.message, failed);
    }
    const out = new Error(e.message);
    if (e.name)
        out.name = e.name;
    if (e.code)
        out.code = e.code;
    return out;
}
//# sourceMappingURL=task-runner.js.map