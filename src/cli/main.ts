#!/usr/bin/env node
import { CommanderError } from 'commander';
import { EXIT, reportError } from './exit.js';
import { buildProgram } from './program.js';

/** After the command is done and has closed what it opened, do not wait on stray timers of other layers. */
const EXIT_GRACE_MS = 100;

// `vigil logs 42 | head -1`: the reader left, which is not an error of ours. Exit quietly instead of a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help/version).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(err);
  }
}

const code = await main(process.argv);
process.exitCode = code;
setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
