import { example } from '../common.js';
import { print } from '../output.js';
// Placeholder: the demo pipeline replaces this file (issue 7).
export function registerDemo(program) {
    const cmd = program.command('demo').description('run the demo pipeline (arrives with issue 7)');
    example(cmd, 'vigil demo');
    cmd.action(() => {
        print('vigil demo: the demo pipeline arrives with issue 7; nothing to run yet.');
    });
}
//# sourceMappingURL=demo.js.map