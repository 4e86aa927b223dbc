import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { VigilError } from '../errors.js';
import { ByteTail, LineSplitter, LogBudget, lineText, TRAILING_LINES } from './line-splitter.js';
import { killNow, killTree, TreeTracker } from './proctree.js';
/** A program that could not be started: fix the task, not the weather, so never retried. */
export class ProgramStartError extends VigilError {
    program;
    retryable = false;
    constructor(code, message, program, cause) {
        super(code, message, { cause });
        this.program = program;
        this.name = 'ProgramStartError';
    }
}
/** After the program exits, how long its pipes may still deliver output before they are destroyed. */
const DRAIN_MS = 500;
/** Leftovers of a program that exited get this long to act on SIGTERM. */
const LEFTOVER_GRACE_MS = 500;
/** No output for this long: an unfinished line (a prompt waiting for input) is logged as it is. */
const PARTIAL_FLUSH_MS = 1_000;
const DEFAULT_TAIL = 64 * 1024;
export async function startProgram(spec) {
    const { argv } = spec;
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
        throw new ProgramStartError('VIGIL_INVALID_TASK_OPTION', `a command must be a non-empty array of strings (got ${safeJson(argv)}); to use a shell, say so: ['sh', '-c', script]`, String(argv?.[0] ?? ''));
    }
    if (argv[0] === '')
        throw new ProgramStartError('VIGIL_EXEC_NOT_FOUND', 'program not found: the command\'s first element is an empty string', '');
    if (argv.some((a) => a.includes('\0'))) {
        throw new ProgramStartError('VIGIL_INVALID_TASK_OPTION', `an argument of ${argv[0]} contains a NUL byte, which no program can receive`, argv[0]);
    }
    if (spec.cwd !== undefined)
        checkCwd(spec.cwd, argv[0]);
    const env = { ...process.env, ...spec.env };
    delete env.VIGIL_TOKEN;
    const stdinMode = spec.stdin === 'closed' ? 'ignore' : 'pipe';
    let child;
    try {
        child = spawn(argv[0], argv.slice(1), { cwd: spec.cwd, env, stdio: [stdinMode, 'pipe', 'pipe'], detached: true, windowsHide: true });
    }
    catch (err) {
        throw startError(argv[0], spec.cwd, env, err);
    }
    if (child.pid === undefined) {
        // libuv reports exec failures synchronously; node emits the 'error' event on the next tick.
        const err = await new Promise((resolve) => child.once('error', resolve));
        throw startError(argv[0], spec.cwd, env, err);
    }
    return new Program(child, spec);
}
export class Program {
    child;
    spec;
    pid;
    tracker;
    exited;
    startedAt = Date.now();
    stdoutTail;
    stderrTail;
    budget;
    sampler = null;
    sampleCount = 0;
    lastOutputAt = Date.now();
    oom = null;
    hasExited = false;
    splitters;
    constructor(child, spec) {
        this.child = child;
        this.spec = spec;
        this.pid = child.pid;
        // A ChildProcess 'error' without a listener would crash the worker; the exit is what ends the attempt.
        child.on('error', () => undefined);
        this.tracker = new TreeTracker(this.pid);
        this.stdoutTail = new ByteTail(spec.stdoutTailBytes ?? DEFAULT_TAIL);
        this.stderrTail = new ByteTail(spec.stderrTailBytes ?? DEFAULT_TAIL);
        this.budget = new LogBudget(spec.logBudget);
        this.splitters = { stdout: this.splitter('stdout'), stderr: this.splitter('stderr') };
        this.feedStdin();
        const stdoutDone = this.consume(child.stdout, 'stdout', this.stdoutTail);
        const stderrDone = this.consume(child.stderr, 'stderr', this.stderrTail);
        const exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
        this.exited = this.afterExit(exit, Promise.all([stdoutDone, stderrDone]));
        this.scheduleSample();
    }
    /** SIGTERM (and SIGCONT) to the whole tree: the program's chance to clean up. */
    terminate() {
        this.tracker.killAll('SIGTERM');
        this.tracker.killAll('SIGCONT');
    }
    /** SIGKILL to the whole tree until none of it is left (bounded ~1 s). True when it is gone. */
    kill() {
        return killNow(this.tracker);
    }
    /** SIGTERM, up to graceMs, SIGKILL. */
    stop(graceMs) {
        return killTree(this.tracker, graceMs);
    }
    get done() {
        return this.hasExited;
    }
    pids() {
        return this.tracker.sample();
    }
    /** The tree as last sampled by pids()/the sampler. */
    lastSample() {
        return this.tracker.lastSample();
    }
    splitter(stream) {
        return new LineSplitter((bytes, cut) => {
            if (this.budget.admit(stream, bytes.length, bytes.length + cut))
                this.emit(stream, lineText(bytes, cut));
        });
    }
    emit(stream, line) {
        const note = this.budget.takeSkipNote();
        const ts = Date.now();
        if (note)
            this.spec.onLine('system', note, ts);
        this.spec.onLine(stream, line, ts);
    }
    feedStdin() {
        const stdin = this.child.stdin;
        if (!stdin)
            return;
        // EPIPE when the program exits without reading its input: not an error of the attempt.
        stdin.on('error', () => undefined);
        const mode = this.spec.stdin;
        if (typeof mode === 'object')
            stdin.end(mode.text);
        // 'open': the pipe stays open and empty until the program exits (then it is destroyed in afterExit).
    }
    consume(stream, name, tail) {
        const splitter = this.splitters[name];
        return new Promise((resolve) => {
            // No pause, no queue: each chunk is split and forgotten at once, so neither memory nor the program waits.
            stream.on('data', (chunk) => {
                this.lastOutputAt = Date.now();
                tail.write(chunk);
                splitter.write(chunk);
                this.spec.onActivity?.();
            });
            stream.once('close', resolve);
            stream.once('error', () => resolve());
        });
    }
    scheduleSample() {
        // Sample early and often at first: a short-lived parent of a setsid() daemon is only caught while it lives.
        const period = this.spec.sampleMs ?? (this.spec.memoryMb ? 250 : 500);
        const early = [50, 100, 200];
        const wait = Math.min(early[this.sampleCount] ?? period, period);
        this.sampler = setTimeout(() => {
            this.sampleCount++;
            this.tick();
            if (!this.hasExited && !this.oom)
                this.scheduleSample();
        }, wait);
        this.sampler.unref?.();
    }
    tick() {
        if (this.hasExited)
            return;
        const limitMb = this.spec.memoryMb;
        if (limitMb) {
            const rssKb = this.tracker.rssKb();
            if (rssKb > limitMb * 1024) {
                this.oom = { rssKb, limitKb: limitMb * 1024 };
                void this.kill();
                return;
            }
        }
        else {
            this.tracker.sample();
        }
        if (Date.now() - this.lastOutputAt >= PARTIAL_FLUSH_MS) {
            for (const splitter of Object.values(this.splitters))
                if (splitter.hasPartial)
                    splitter.flush();
        }
    }
    async afterExit(exit, streams) {
        const [exitCode, signal] = await exit;
        this.hasExited = true;
        if (this.sampler)
            clearTimeout(this.sampler);
        this.child.stdin?.destroy();
        // Whatever the program left running (background jobs in its group, daemons that left it) dies with it.
        const left = this.tracker.sample();
        if (left.length > 0) {
            const stats = this.tracker.lastSample();
            await killTree(this.tracker, LEFTOVER_GRACE_MS);
            if (!this.oom) {
                this.spec.onLine('system', `[vigil] the program exited leaving ${left.length} ${left.length === 1 ? 'process' : 'processes'} running, now killed: ${stats.map((s) => `${s.pid} (${s.comm})`).join(', ')}`, Date.now());
            }
        }
        let timer;
        await Promise.race([streams, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
        clearTimeout(timer);
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
        this.splitters.stdout.end();
        this.splitters.stderr.end();
        const summary = this.budget.summary();
        if (summary) {
            const ts = Date.now();
            this.spec.onLine('system', summary.note, ts);
            for (const stream of ['stdout', 'stderr']) {
                const n = summary.trailing[stream];
                if (n === 0)
                    continue;
                const tail = stream === 'stdout' ? this.stdoutTail : this.stderrTail;
                for (const line of tail.lastLines(Math.min(n, TRAILING_LINES), 8192))
                    this.spec.onLine(stream, line, ts);
            }
        }
        return { exitCode, signal, oom: this.oom, stdout: this.stdoutTail, stderr: this.stderrTail, durationMs: Date.now() - this.startedAt };
    }
}
function checkCwd(cwd, program) {
    let isDir = false;
    try {
        isDir = statSync(cwd).isDirectory();
    }
    catch (err) {
        throw new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `working directory not found: ${cwd} (cwd of ${program}); create it or fix the task's cwd`, program, err);
    }
    if (!isDir)
        throw new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `working directory is not a directory: ${cwd} (cwd of ${program})`, program);
}
/** A clear, non-retryable error for a program that could not be executed. */
function startError(program, cwd, env, err) {
    const code = err?.code;
    const hasSlash = program.includes('/');
    const path = hasSlash ? (isAbsolute(program) ? program : resolve(cwd ?? process.cwd(), program)) : findInPath(program, env.PATH);
    if (code === 'ENOENT') {
        if (path && exists(path)) {
            return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `program not found: ${path} exists, but the interpreter named on its #! line does not; install it or fix the #! line`, program, err);
        }
        if (hasSlash)
            return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `program not found: ${program}${path !== program ? ` (${path})` : ''}; check the path`, program, err);
        return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `program not found: "${program}" is not in PATH (${env.PATH ?? 'PATH is not set'}); install it, check PATH, or give its full path`, program, err);
    }
    if (code === 'EACCES' || code === 'EISDIR' || code === 'ENOEXEC') {
        const where = path ?? program;
        const what = isDirectory(where) ? 'it is a directory' : code === 'ENOEXEC' ? 'not a binary and no #! line' : 'permission denied';
        return new ProgramStartError('VIGIL_EXEC_NOT_EXECUTABLE', `not executable: ${where} (${what}); chmod +x it, or run it through its interpreter, e.g. ['python3', '${where}']`, program, err);
    }
    return new ProgramStartError('VIGIL_EXEC_NOT_FOUND', `could not start ${program}: ${err?.message ?? String(err)}`, program, err);
}
function findInPath(program, pathVar) {
    for (const dir of (pathVar ?? '').split(delimiter)) {
        if (!dir)
            continue;
        const candidate = join(dir, program);
        if (exists(candidate))
            return candidate;
    }
    return null;
}
function exists(path) {
    try {
        accessSync(path, constants.F_OK);
        return true;
    }
    catch {
        return false;
    }
}
function isDirectory(path) {
    try {
        return statSync(path).isDirectory();
    }
    catch {
        return false;
    }
}
function safeJson(value) {
    try {
        return JSON.stringify(value) ?? String(value);
    }
    catch {
        return String(value);
    }
}
//# sourceMappingURL=program.js.map