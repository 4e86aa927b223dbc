import { fork } from 'node:child_process';
import { VigilError } from '../errors.js';
import { serializeError } from '../task/serialize.js';
import { LineSplitter } from './ipc.js';
import { entryPath, forkExecArgv } from './node-entry.js';
/** After SIGKILL, how long to wait for the host's exit event before its attempts are resolved anyway. */
const EXIT_WAIT_MS = 150;
export class ThreadExecutor {
    threadsPerHost;
    killBoundMs;
    hostIdleMs;
    onHostOutput;
    hosts = new Set();
    attempts = new Map();
    closed = false;
    /** Hosts forked so far (tests and metrics read it). */
    hostsStarted = 0;
    constructor(options = {}) {
        this.threadsPerHost = positiveInt(options.threadsPerHost, 'threadsPerHost', 4);
        this.killBoundMs = positiveInt(options.killBoundMs, 'killBoundMs', 250);
        this.hostIdleMs = positiveInt(options.hostIdleMs, 'hostIdleMs', 30_000);
        this.onHostOutput = options.onHostOutput ?? ((line, pid) => process.stderr.write(`[vigil executor host ${pid}] ${line}\n`));
    }
    start(spec, channel) {
        if (this.closed)
            throw new VigilError('VIGIL_CLOSED', 'the thread executor is closed; start a new worker to run attempts');
        if (this.attempts.has(spec.key))
            throw new VigilError('VIGIL_INTERNAL', `attempt ${spec.key} is already running in this executor (internal error)`);
        const host = this.pickHost();
        const attempt = new ThreadAttempt(spec, channel, host, this.killBoundMs);
        this.attempts.set(spec.key, attempt);
        void attempt.done.then(() => this.attempts.delete(spec.key));
        host.add(attempt);
        host.send({ type: 'start', spec });
        return attempt;
    }
    /** Pids of the live host processes. */
    hostPids() {
        return [...this.hosts].filter((h) => h.alive).map((h) => h.pid);
    }
    async close() {
        this.closed = true;
        await Promise.all([...this.hosts].map((host) => host.destroy()));
    }
    pickHost() {
        for (const host of this.hosts) {
            if (host.usable && host.attempts.size < this.threadsPerHost)
                return host;
        }
        this.hostsStarted += 1;
        const host = new Host(this.threadsPerHost, this.onHostOutput, () => this.hostIdle(host), () => this.hosts.delete(host));
        this.hosts.add(host);
        return host;
    }
    /** Keeps one host warm; the others go away after hostIdleMs without attempts. */
    hostIdle(host) {
        const warm = [...this.hosts].filter((h) => h.usable);
        if (warm.length <= 1)
            return null;
        const timer = setTimeout(() => {
            if (host.attempts.size === 0 && [...this.hosts].filter((h) => h.usable).length > 1)
                void host.destroy();
        }, this.hostIdleMs);
        timer.unref();
        return timer;
    }
}
class Host {
    onIdle;
    onGone;
    child;
    pid;
    attempts = new Map();
    alive = true;
    /** False once the host is being killed: no new attempts go to it. */
    usable = true;
    /** Attempts this host is being killed for: they end `killed`, the others `died` collaterally. */
    killTargets = new Set();
    destroying = false;
    exited;
    resolveExited;
    idleTimer = null;
    nextCaptureId = 1;
    captures = new Map();
    constructor(threadsPerHost, onOutput, onIdle, onGone) {
        this.onIdle = onIdle;
        this.onGone = onGone;
        this.exited = new Promise((resolve) => (this.resolveExited = resolve));
        this.child = fork(entryPath('thread-host'), [String(threadsPerHost)], {
            execArgv: forkExecArgv(),
            serialization: 'advanced',
            stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        });
        this.pid = this.child.pid ?? -1;
        for (const stream of [this.child.stdout, this.child.stderr]) {
            const lines = new LineSplitter((line) => onOutput(line, this.pid));
            stream?.on('data', (chunk) => lines.write(chunk));
            stream?.on('end', () => lines.flush());
        }
        this.child.on('message', (message) => this.onMessage(message));
        this.child.on('exit', (code, signal) => this.onExit(`exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
        this.child.on('error', (err) => {
            // Fork failed, or the IPC channel broke: the host is useless either way.
            onOutput(`executor host error: ${err.message}`, this.pid);
            if (this.child.pid === undefined)
                this.onExit(`could not start: ${err.message}`);
            else
                this.sigkill();
        });
    }
    send(message) {
        if (!this.alive || !this.child.connected)
            return;
        try {
            this.child.send(message);
        }
        catch {
            // The channel closed under us: the exit handler resolves the attempts.
        }
    }
    add(attempt) {
        if (this.idleTimer)
            clearTimeout(this.idleTimer);
        this.idleTimer = null;
        if (this.attempts.size === 0)
            this.ref(true);
        this.attempts.set(attempt.spec.key, attempt);
    }
    remove(attempt) {
        if (this.attempts.get(attempt.spec.key) !== attempt)
            return;
        this.attempts.delete(attempt.spec.key);
        if (this.attempts.size === 0 && this.alive) {
            // An idle host must not keep the supervisor's process alive.
            this.ref(false);
            this.idleTimer = this.onIdle();
        }
    }
    /** Asks for a thread stack; resolves with the host's answer, or null if the host is gone. */
    capture(key, budgetMs) {
        if (!this.alive)
            return Promise.resolve(null);
        const id = this.nextCaptureId++;
        return new Promise((resolve) => {
            this.captures.set(id, resolve);
            this.send({ type: 'capture', key, id, budgetMs });
        });
    }
    dropCapture(id) {
        this.captures.delete(id);
    }
    /** Kill one attempt: terminate its thread, and if that does not work within the bound, SIGKILL the host. */
    async killAttempt(attempt, boundMs) {
        this.send({ type: 'kill', key: attempt.spec.key });
        attempt.killExecGroups();
        if (await settlesWithin(attempt.done, boundMs))
            return;
        // The thread could not be terminated (blocked in a syscall or native code): only SIGKILL of its host ends it.
        this.killTargets.add(attempt);
        this.sigkill();
        await settlesWithin(this.exited, EXIT_WAIT_MS);
        if (this.alive)
            this.onExit('was SIGKILLed and did not report its exit');
    }
    /** Kills the host and everything it runs (close, idle retirement). */
    async destroy() {
        this.destroying = true;
        for (const attempt of this.attempts.values())
            this.killTargets.add(attempt);
        if (this.alive)
            this.sigkill();
        await settlesWithin(this.exited, 2_000);
        if (this.alive)
            this.onExit('was SIGKILLed and did not report its exit');
    }
    sigkill() {
        this.usable = false;
        try {
            this.child.kill('SIGKILL');
        }
        catch {
            // Already gone.
        }
    }
    ref(on) {
        const handles = [this.child, this.child.channel, this.child.stdout, this.child.stderr];
        for (const handle of handles)
            (on ? handle?.ref : handle?.unref)?.call(handle);
    }
    onMessage(message) {
        if (message.type === 'captured') {
            const resolve = this.captures.get(message.id);
            this.captures.delete(message.id);
            resolve?.(message.where);
            return;
        }
        this.attempts.get(message.key)?.onMessage(message);
    }
    onExit(how) {
        if (!this.alive)
            return;
        this.alive = false;
        this.usable = false;
        if (this.idleTimer)
            clearTimeout(this.idleTimer);
        this.onGone();
        const collateral = this.killTargets.size > 0;
        for (const attempt of [...this.attempts.values()]) {
            if (this.killTargets.has(attempt)) {
                attempt.finish({ type: 'killed' });
            }
            else if (collateral) {
                attempt.finish({
                    type: 'died',
                    collateral: true,
                    message: `the executor host (pid ${this.pid}) was killed to stop another attempt that could not be terminated; this attempt was lost with it`,
                });
            }
            else {
                attempt.finish({
                    type: 'died',
                    collateral: false,
                    message: `the executor host process (pid ${this.pid}) running this attempt ${how}${this.destroying ? ' (executor closed)' : ''}`,
                });
            }
        }
        for (const resolve of this.captures.values())
            resolve(null);
        this.captures.clear();
        this.resolveExited();
    }
}
class ThreadAttempt {
    spec;
    channel;
    host;
    killBoundMs;
    done;
    resolveDone;
    ended = false;
    killing = null;
    execPids = new Set();
    constructor(spec, channel, host, killBoundMs) {
        this.spec = spec;
        this.channel = channel;
        this.host = host;
        this.killBoundMs = killBoundMs;
        this.done = new Promise((resolve) => (this.resolveDone = resolve));
    }
    abort(reason) {
        if (!this.ended)
            this.host.send({ type: 'abort', key: this.spec.key, reason });
    }
    kill() {
        if (this.ended)
            return Promise.resolve();
        this.killing ??= this.host.killAttempt(this, this.killBoundMs);
        return this.killing;
    }
    async captureHang(budgetMs) {
        if (this.ended)
            return { notes: ['the attempt had already ended when its hang was captured'] };
        let timer;
        const timeout = new Promise((resolve) => {
            timer = setTimeout(() => resolve({ notes: [`capture did not answer within ${budgetMs} ms`] }), budgetMs);
        });
        const answer = this.host.capture(this.spec.key, budgetMs).then((where) => where ?? { notes: ['the executor host went away during the capture'] }, (err) => ({ notes: [`capture failed: ${err instanceof Error ? err.message : String(err)}`] }));
        try {
            return await Promise.race([answer, timeout]);
        }
        finally {
            clearTimeout(timer);
        }
    }
    pids() {
        return [...this.execPids];
    }
    onMessage(message) {
        if (this.ended)
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
                    this.finish(message.end);
                    return;
            }
        }
        catch (err) {
            // A failing channel is an engine bug; it must not take the supervisor down with it.
            process.emitWarning(`vigil: attempt channel failed on "${message.type}" for ${this.spec.key}: ${err instanceof Error ? err.message : String(err)}`);
        }
    }
    answer(id, call) {
        const key = this.spec.key;
        Promise.resolve()
            .then(call)
            .then((value) => {
            if (!this.ended)
                this.host.send({ type: 'reply', key, id, ok: true, value });
        }, (err) => {
            if (!this.ended)
                this.host.send({ type: 'reply', key, id, ok: false, error: toSerialized(err) });
        });
    }
    killExecGroups() {
        for (const pid of this.execPids)
            killGroup(pid);
    }
    finish(end) {
        if (this.ended)
            return;
        this.ended = true;
        // Programs started by ctx.exec die with the attempt, however it ended.
        this.killExecGroups();
        this.host.remove(this);
        this.resolveDone(end);
    }
}
export function toSerialized(err) {
    if (err && typeof err === 'object' && !(err instanceof Error) && typeof err.message === 'string' && typeof err.kind === 'string') {
        return err;
    }
    return serializeError(err);
}
export function killGroup(pid) {
    try {
        process.kill(-pid, 'SIGKILL');
    }
    catch {
        // Already gone.
    }
}
/** True when `promise` settled within `ms`. */
export async function settlesWithin(promise, ms) {
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    try {
        return await Promise.race([promise.then(() => true, () => true), timeout]);
    }
    finally {
        clearTimeout(timer);
    }
}
function positiveInt(value, name, fallback) {
    if (value === undefined)
        return fallback;
    if (!Number.isInteger(value) || value <= 0) {
        throw new VigilError('VIGIL_USAGE', `ThreadExecutor: option "${name}" must be a positive integer (got ${JSON.stringify(value)})`);
    }
    return value;
}
//# sourceMappingURL=thread-executor.js.map