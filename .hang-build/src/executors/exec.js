import { NonRetryableError } from '../errors.js';
import { parseDuration } from '../task/duration.js';
import { ProgramStartError, startProgram } from './program.js';
/** After an abort or a timeout, how long the program gets to act on SIGTERM before SIGKILL. */
export const EXEC_GRACE_MS = 2_000;
/** A program run by ctx.exec failed: non-zero exit, death by a signal, timeout, or the attempt was aborted. */
export class ExecError extends Error {
    code = 'VIGIL_EXEC_FAILED';
    exitCode;
    signal;
    timedOut;
    /** The last 64 KiB of each stream. */
    stdout;
    stderr;
    details;
    constructor(message, argv, result, timedOut, options) {
        super(message, options);
        this.name = 'ExecError';
        this.exitCode = result.exitCode;
        this.signal = result.signal;
        this.timedOut = timedOut;
        this.stdout = result.stdout;
        this.stderr = result.stderr;
        this.details = { argv: argv.slice(0, 20), exitCode: result.exitCode, signal: result.signal, timedOut };
    }
}
export async function contextExec(argv, options, env) {
    const opts = options ?? {};
    if (env.signal.aborted)
        throw new ExecError(`${argv[0]} was not started: the attempt is already aborted`, argv, emptyResult(), false, { cause: env.signal.reason });
    const timeoutMs = opts.timeout !== undefined ? parseDuration(opts.timeout, 'exec timeout') : Math.max(0, env.endsAt - Date.now());
    let program;
    try {
        program = await startProgram({
            argv,
            cwd: opts.cwd,
            env: opts.env,
            stdin: opts.stdin ?? 'closed',
            onLine: (stream, line, ts) => (stream === 'system' ? env.log('stderr', line, ts) : env.log(stream, line, ts)),
        });
    }
    catch (err) {
        if (err instanceof ProgramStartError)
            throw new NonRetryableError(err.message, { cause: err });
        throw err;
    }
    const pid = program.pid;
    env.started(pid);
    let stopping = null;
    const stop = (why) => {
        if (stopping || program.done)
            return;
        stopping = why;
        void program.stop(EXEC_GRACE_MS);
    };
    const onAbort = () => stop('aborted');
    env.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    let exit;
    try {
        exit = await program.exited;
    }
    finally {
        clearTimeout(timer);
        env.signal.removeEventListener('abort', onAbort);
        env.ended(pid);
    }
    const result = {
        exitCode: exit.exitCode,
        signal: exit.signal,
        stdout: exit.stdout.text(),
        stderr: exit.stderr.text(),
    };
    if (stopping === 'timeout') {
        throw new ExecError(`${argv[0]} timed out after ${timeoutMs} ms; its process tree was killed${stderrLines(exit)}`, argv, result, true);
    }
    if (stopping === 'aborted') {
        throw new ExecError(`${argv[0]} was stopped: the attempt was aborted (${reasonOf(env.signal.reason)}); its process tree was killed`, argv, result, false, { cause: env.signal.reason });
    }
    if (opts.check !== false && (exit.exitCode !== 0 || exit.signal)) {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
        throw new ExecError(`${argv[0]} ${how}${stderrLines(exit)}`, argv, result, false);
    }
    return result;
}
function stderrLines(exit) {
    const lines = exit.stderr.lastLines(10);
    return lines.length ? `; last lines of stderr:\n${lines.join('\n')}` : '';
}
function reasonOf(reason) {
    if (reason instanceof Error)
        return reason.message;
    return typeof reason === 'string' ? reason : 'no reason given';
}
function emptyResult() {
    return { exitCode: null, signal: null, stdout: '', stderr: '' };
}
//# sourceMappingURL=exec.js.map