import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerControl } from './commands/control.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerInspect } from './commands/inspect.js';
import { registerJobs } from './commands/jobs.js';
import { registerLogs } from './commands/logs.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerStatus } from './commands/status.js';
import { registerSubmit } from './commands/submit.js';
import { registerWorker } from './commands/worker.js';
import { registerSchedules } from './commands/schedules.js';
import { registerPrune } from './commands/prune.js';
import { registerWhy } from './commands/why.js';
import { registerReplay } from './commands/replay.js';

/** The `vigil` command tree. A new command is one `registerX(program)` line here and one file in commands/. */
export function buildProgram(): Command {
  const program = new Command('vigil')
    .description('Vigil: a job runner for Node.js where no job hangs silently and no job is lost')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    // Set before the commands are added: subcommands inherit these settings.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`vigil: ${text.replace(/^error: /, '')}`) })
    .addHelpText(
      'after',
      '\nStore: --store <url> or $VIGIL_STORE (default sqlite:./vigil.db). Exit codes: 0 ok, 1 job or check failed, 2 usage or input error.\n' +
        '\nExample:\n  $ vigil run hello --tasks ./tasks.ts --input \'{"name":"Ada"}\'\n',
    );
  registerRun(program);
  registerSubmit(program);
  registerWorker(program);
  registerServe(program);
  registerStatus(program);
  registerJobs(program);
  registerLogs(program);
  registerInspect(program);
  registerControl(program);
  registerDoctor(program);
  registerSchedules(program);
  registerPrune(program);
  registerWhy(program);
  registerReplay(program);
  registerDemo(program);
  return program;
}

function packageVersion(): string {
  // Two levels up from src/cli (tsx) and three from dist/src/cli (built): try both.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vigil' && pkg.version) return pkg.version;
    } catch {
      // not this level
    }
  }
  return '0.0.0';
}
