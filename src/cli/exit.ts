import { CommanderError } from 'commander';
import { StoreUnavailableError, UsageError, VigilError, type ErrorCode } from '../errors.js';

/** DESIGN §4: 0 ok, 1 the job or a check failed, 2 usage or input error. 130: interrupted (shell convention). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Codes that mean "the caller can fix the command line, the input or the environment". */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'VIGIL_INVALID_TASK_OPTION',
  'VIGIL_INVALID_DURATION',
  'VIGIL_UNKNOWN_TASK',
  'VIGIL_DUPLICATE_TASK',
  'VIGIL_TASKS_MODULE_LOAD',
  'VIGIL_INVALID_INPUT',
  'VIGIL_PAYLOAD_TOO_LARGE',
  'VIGIL_STORE_UNAVAILABLE',
  'VIGIL_STORE_URL',
  'VIGIL_STORE_NOT_FOUND',
  'VIGIL_JOB_NOT_FOUND',
  'VIGIL_INVALID_STATE',
  'VIGIL_USAGE',
]);

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof UsageError || err instanceof StoreUnavailableError) return EXIT.usage;
  if (err instanceof VigilError && USAGE_CODES.has(err.code)) return EXIT.usage;
  return EXIT.failed;
}

/**
 * Prints `vigil: <message>` (and the causes' messages) on stderr and returns the exit code. A stack trace only for
 * errors that are Vigil's fault, or for any error with VIGIL_DEBUG=1: a user who typed a wrong path needs the
 * message, not our call stack.
 */
export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  const code = exitCodeFor(err);
  const debug = process.env.VIGIL_DEBUG === '1';
  const expected = err instanceof VigilError;
  if (debug || !expected) {
    stderr.write(`vigil: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } else {
    stderr.write(`vigil: ${(err as Error).message}\n`);
  }
  for (const cause of causes(err)) {
    if (err instanceof Error && err.message.includes(cause)) continue;
    stderr.write(`  cause: ${cause}\n`);
  }
  if (!debug && expected && code === EXIT.failed) stderr.write('  (set VIGIL_DEBUG=1 to see the stack trace)\n');
  return code;
}

function causes(err: unknown): string[] {
  const out: string[] = [];
  let cur = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    out.push(cur instanceof Error ? cur.message : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return out;
}

/** Exit code of a job that has ended: succeeded → 0, failed or cancelled → 1. */
export function jobExitCode(state: string): number {
  return state === 'succeeded' ? EXIT.ok : EXIT.failed;
}
