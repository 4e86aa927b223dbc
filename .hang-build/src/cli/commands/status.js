import { example, jsonOption, storeOption, withVigil } from '../common.js';
import { printJob } from '../output.js';
export function registerStatus(program) {
    const cmd = program
        .command('status')
        .description('show a job: state, attempts, timings, progress, result or error')
        .argument('<id>', 'job id');
    jsonOption(cmd, 'the job');
    storeOption(cmd);
    example(cmd, 'vigil status 42', 'vigil status 42 --json');
    cmd.action(async (id, opts) => {
        await withVigil(opts, async (vigil) => printJob(await vigil.get(id), opts.json));
    });
}
//# sourceMappingURL=status.js.map