/** DESIGN §4: 0 ok, 1 the job or a check failed, 2 usage or input error. 130: interrupted (shell convention). */
export declare const EXIT: {
    readonly ok: 0;
    readonly failed: 1;
    readonly usage: 2;
    readonly interrupted: 130;
};
export declare function exitCodeFor(err: unknown): number;
/**
 * Prints `vigil: <message>` (and the causes' messages) on stderr and returns the exit code. A stack trace only for
 * errors that are Vigil's fault, or for any error with VIGIL_DEBUG=1: a user who typed a wrong path needs the
 * message, not our call stack.
 */
export declare function reportError(err: unknown, stderr?: NodeJS.WritableStream): number;
/** Exit code of a job that has ended: succeeded → 0, failed or cancelled → 1. */
export declare function jobExitCode(state: string): number;
