import type { Command } from 'commander';
import { diagnose } from '../../ops/doctor/diagnose.js';
import { renderReport } from '../../ops/doctor/render.js';
import { storeUrlFromEnv } from '../../store/open.js';
import { durationArg, example, storeOption, type StoreOptions } from '../common.js';
import { EXIT } from '../exit.js';
import { print, printJson } from '../output.js';

interface DoctorOptions extends StoreOptions {
  json?: boolean;
  grace?: number;
  since?: number;
  forgetLost?: boolean;
}

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description(
      'check the store, workers (live or lost), expired leases, unserved tasks, deadlines, stuck parents, queues, hangs and supervisor freezes; exit 0 when healthy, 1 when something needs a human (each finding says what to do)',
    )
    .option('--json', 'print the report as JSON (stable, version 1; see docs/operations.md)')
    .option('--grace <duration>', 'how long a condition Vigil resolves by itself (a passed deadline, an expired lease) may last before it is a finding (default 10s)', durationArg())
    .option('--since <duration>', 'window for recent hangs and supervisor freezes (default 1h)', durationArg(1_000))
    .option('--forget-lost', 'first delete the records of lost workers (after you dealt with them)');
  storeOption(cmd);
  example(cmd, 'vigil doctor --store postgres://localhost/app --json');
  cmd.action(async (opts: DoctorOptions) => {
    const report = await diagnose(storeUrlFromEnv(opts.store), { graceMs: opts.grace ?? 10_000, windowMs: opts.since ?? 3_600_000, forgetLost: opts.forgetLost });
    if (opts.json) printJson(report);
    else print(renderReport(report));
    process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
  });
}
