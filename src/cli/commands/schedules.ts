import type { Command } from 'commander';
import type { Json } from '../../types.js';
import { example, jsonOption, storeOption, withVigil, type StoreOptions } from '../common.js';
import { ago, iso, print, printJson, table } from '../output.js';
import { formatDuration } from '../../task/duration.js';

interface SchedulesOptions extends StoreOptions {
  json?: boolean;
}

export function registerSchedules(program: Command): void {
  const cmd = program
    .command('schedules')
    .description('list the schedules workers have registered, with their last and next runs');
  jsonOption(cmd, 'an array of schedules');
  storeOption(cmd);
  example(cmd, 'vigil schedules', 'vigil schedules --json');
  cmd.action(async (opts: SchedulesOptions) => {
    await withVigil(opts, async (vigil) => {
      const schedules = await vigil.store.listSchedules();
      if (opts.json) return printJson(schedules);
      if (schedules.length === 0) return print('no schedules (a worker registers the schedules its tasks module exports with defineSchedule)');
      const now = Date.now();
      print(
        table(
          ['NAME', 'TASK', 'WHEN', 'LAST RUN', 'LAST JOB', 'NEXT RUN'],
          schedules.map((s) => [
            s.name,
            s.task,
            when(s.spec),
            s.lastFiredAt === null ? 'never' : `${iso(s.lastFiredAt)} (${ago(s.lastFiredAt, now)})`,
            s.lastJobId ?? '-',
            s.nextTickAt === null ? '-' : `${iso(s.nextTickAt)}${s.nextTickAt > now ? ` (in ${formatDuration(s.nextTickAt - now)})` : ' (due: is a worker running?)'}`,
          ]),
        ),
      );
    });
  });
}

function when(spec: Json): string {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return '?';
  const tz = spec.timezone && spec.timezone !== 'UTC' ? ` ${String(spec.timezone)}` : '';
  const every = typeof spec.everyMs === 'number' ? `every ${formatDuration(spec.everyMs)}` : `cron ${String(spec.cron)}${tz}`;
  return `${every}, catch-up ${String(spec.catchUp)}`;
}
