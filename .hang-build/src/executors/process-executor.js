import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { VigilError } from '../errors.js';
import { LineSplitter } from './ipc.js';
import { entryPath, forkExecArgv } from './node-entry.js';
import { killGroup, settlesWithin, toSerialized } from './thread-executor.js';
// Written alongside this module by the command-task side; until it is there, the process group is what we kill.
const PROCTREE_MODULE = './proctree.js';
let trackerModule = null;
const trackerLoading = import(PROCTREE_MODULE).then((mod) => {
    trackerModule = mod;
}, () => undefined);
const PROCESS_STACK_MODULE = '../forensics/process-stack.js';
/**
 * execArgv of an attempt process: the one place its Node flags are built (forensics may add report flags here).
 */
export function attemptExecArgv() {
    return forkExecArgv();
}
/** How long after the process exits its stdout/stderr may still deliver buffered output. */
const OUTPUT_DRAIN_MS = 200;
/** Without a memory limit, descendants are still sampled (to kill those that leave the group), less often. */
const TREE_SAMPLE_MS = 1_000;
export class ProcessExecutor {
    killBoundMs;
    memorySampleMs;
    attempts = new Map();
    closed = false;
    constructor(options = {}) {
        this.killBoundMs = positiveInt(options.killBoundMs, 'killBoundMs', 500);
        this.memorySampleMs = positiveInt(options.memorySampleMs, 'memorySampleMs', 250);
    }
    start(spec, channel) {
        if (this.closed)
            throw new VigilError('VIGIL_CLOSED', 'the process executor is closed; start a new worker to run attempts');
        if (this.attempts.has(spec.key))
            throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
        const attempt = new ProcessAttempt(spec, channel, this.killBoundMs, this.memorySampleMs);
        this.attempts.set(spec.key, attempt);
        void attempt.done.then(() => this.attempts.delete(spec.key));
        return attempt;
    }
    async close() {
        this.closed = true;
        await Promise.all([...this.attempts.values()].map((attempt) => attempt.kill()));
    }
}
class ProcessAttempt {
    spec;
    channel;
    killBoundMs;
    done;
    resolveDone;
    child;
    pid;
    tracker = null;
    execPids = new Set();
    reported = null;
    oomMessage = null;
    killRequested = false;
    exited = false;
    ended = false;
    killing = null;
    sampler = null;
    outputClosed;
    constructor(spec, channel, killBoundMs, memorySampleMs) {
        this.spec = spec;
        this.channel = channel;
        this.killBoundMs = killBoundMs;
        this.done = new Promise((resolve) => (this.resolveDone = resolve));
        this.child = fork(entryPath('process-entry'), [], {
            execArgv: attemptExecArgv(),
            detached: true,
            serialization: 'advanced',
            stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        });
        this.pid = this.child.pid ?? -1;
        const closes = [];
        for (const [name, stream] of [['stdout', this.child.stdout], ['stderr', this.child.stderr]]) {
            if (!stream)
                continue;
            const lines = new LineSplitter((line) => this.output(name, line));
            stream.on('data', (chunk) => lines.write(chunk));
            closes.push(new Promise((resolve) => stream.once('close', () => { lines.flush(); resolve(); })));
        }
        this.outputClosed = Promise.all(closes);
        this.child.on('message', (message) => this.onMessage(message));
        this.child.on('exit', (code, signal) => void this.onExit(code, signal));
        this.child.on('error', (err) => {
            if (this.child.pid === undefined)
                this.finish({ type: 'died', collateral: false, message: `could not start the attempt process: ${err.message}` });
        });
        this.send({ type: 'run', spec });
        void trackerLoading.then(() => {
            if (trackerModule && !this.exited && this.pid > 0) {
                try {
                    this.tracker = new trackerModule.TreeTracker(this.pid);
                }
                catch {
                    // Falls back to the process group.
                }
            }
        });
        const interval = spec.memoryMb ? memorySampleMs : TREE_SAMPLE_MS;
        this.sampler = setInterval(() => this.sample(), interval);
    }
    abort(reason) {
        if (!this.ended)
            this.send({ type: 'abort', key: this.spec.key, reason });
    }
    kill() {
        if (this.ended)
            return Promise.resolve();
        this.killing ??= (async () => {
            this.killRequested = true;
            this.killTree();
            if (await settlesWithin(this.done, this.killBoundMs))
                return;
            // The exit was not reported in time (a process in uninterruptible sleep): it is SIGKILLed, report it so.
            this.finish(this.endOf(null, 'SIGKILL'));
        })();
        return this.killing;
    }
    async captureHang(budgetMs) {
        if (this.ended || this.exited)
            return { notes: ['the attempt had already ended when its hang was captured'] };
        let timer;
        const timeout = new Promise((resolve) => {
            timer = setTimeout(() => resolve({ notes: [`capture did not answer within ${budgetMs} ms`] }), budgetMs);
        });
        const capture = (async () => {
            try {
                const mod = (await import(PROCESS_STACK_MODULE));
                // report: false until attemptExecArgv() starts children with the report-on-signal flags.
                return await mod.captureProcessStack(this.pid, Math.max(0, budgetMs - 20), { report: false });
            }
            catch (err) {
                return { notes: [`process capture failed: ${err instanceof Error ? err.message : String(err)}`] };
            }
        })();
        try {
            return await Promise.race([capture, timeout]);
        }
        finally {
            clearTimeout(timer);
        }
    }
    pids() {
        if (this.exited)
            return [...this.execPids];
        const tree = this.treePids();
        return [...new Set([...tree, ...this.execPids])];
    }
    send(message) {
        if (this.exited || !this.child.connected)
            return;
        try {
            this.child.send(message);
        }
        catch {
            // The process is going away: its exit ends the attempt.
        }
    }
    output(stream, line) {
        if (this.ended)
            return;
        this.channel.log(stream, line, Date.now());
        this.channel.activity();
    }
    onMessage(message) {
        if (this.ended || message.type === 'diagnosis' || message.key !== this.spec.key)
            return;
        const { channel } = this;
        try {
            switch (message.type) {
                case 'log':
                    channel.log(message.stream, message.line, message.ts);
                    return;
                case 'heartbeat':
                    channel.heartbeat(message.details);
                    return;
                case 'progress':
                    channel.progress(message.progress);
                    return;
                case 'activity':
                    channel.activity();
                    return;
                case 'spawn':
                    this.answer(message.id, () => channel.spawn(message.children));
                    return;
                case 'all':
                    this.answer(message.id, () => channel.all(message.request));
                    return;
                case 'exec-started':
                    this.execPids.add(message.pid);
                    channel.processStarted(message.pid);
                    return;
                case 'exec-ended':
                    this.execPids.delete(message.pid);
                    channel.processEnded(message.pid);
                    return;
                case 'end':
                    this.reported ??= message.end;
                    return;
            }
        }
        catch (err) {
            process.emitWarning(`vigil: attempt channel failed on "${message.type}" for ${this.spec.key}: ${err instanceof Error ? err.message : String(err)}`);
        }
    }
    answer(id, call) {
        const key = this.spec.key;
        Promise.resolve()
            .then(call)
            .then((value) => this.send({ type: 'reply', key, id, ok: true, value }), (err) => this.send({ type: 'reply', key, id, ok: false, error: toSerialized(err) }));
    }
    sample() {
        if (this.exited)
            return;
        // Sampling is also how the tracker learns of descendants that leave the group, so it runs without a limit too.
        this.treePids();
        if (!this.spec.memoryMb || this.oomMessage)
            return;
        const rssKb = this.tracker ? this.tracker.rssKb() : rssOf(this.pid);
        if (rssKb > this.spec.memoryMb * 1024) {
            this.oomMessage = `the task's process tree used ${Math.round(rssKb / 1024)} MB, over its memory limit (memoryMb: ${this.spec.memoryMb}), and was killed`;
            this.killTree();
        }
    }
    treePids() {
        if (this.tracker) {
            try {
                return this.tracker.sample();
            }
            catch {
                // Fall through to the root pid.
            }
        }
        return this.pid > 0 ? [this.pid] : [];
    }
    /** SIGKILL to the group, every descendant the tracker saw (some leave the group) and every ctx.exec program. */
    killTree() {
        if (this.pid > 0) {
            if (this.tracker) {
                try {
                    this.tracker.killAll('SIGKILL');
                }
                catch {
                    // The group kill below still runs.
                }
            }
            killGroup(this.pid);
        }
        for (const pid of this.execPids)
            killGroup(pid);
    }
    async onExit(code, signal) {
        if (this.exited)
            return;
        this.exited = true;
        if (this.sampler)
            clearInterval(this.sampler);
        // Whatever the attempt left behind (background programs in its group) dies with it.
        this.killTree();
        await settlesWithin(this.outputClosed, OUTPUT_DRAIN_MS);
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
        this.finish(this.endOf(code, signal));
    }
    endOf(code, signal) {
        if (this.reported)
            return this.reported;
        if (this.oomMessage)
            return { type: 'oom', message: this.oomMessage };
        if (this.killRequested)
            return { type: 'killed' };
        return {
            type: 'died',
            collateral: false,
            message: `the attempt process (pid ${this.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before the task finished`,
        };
    }
    finish(end) {
        if (this.ended)
            return;
        this.ended = true;
        if (this.sampler)
            clearInterval(this.sampler);
        for (const pid of this.execPids)
            killGroup(pid);
        this.resolveDone(end);
    }
}
/** RSS of one process from /proc (the fallback until the tree tracker is available). */
function rssOf(pid) {
    try {
        const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
        return Number.isFinite(pages) ? (pages * 4096) / 1024 : 0;
    }
    catch {
        return 0;
    }
}
function positiveInt(value, name, fallback) {
    if (value === undefined)
        return fallback;
    if (!Number.isInteger(value) || value <= 0) {
        throw new VigilError('VIGIL_USAGE', `ProcessExecutor: option "${name}" must be a positive integer (got ${JSON.stringify(value)})`);
    }
    return value;
}
//# sourceMappingURL=process-executor.js.map