import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../errors.js';
import { SUPERVISOR_NODE_FLAGS } from '../cli/node-flags.js';
import { tsxExecArgv } from '../executors/node-entry.js';

/**
 * Where the demo finds its pieces. It runs from src/ (through tsx) or from dist/src/ (built); both resolve against
 * the package root, found by walking up from this file, never against the current directory: `vigil demo` must
 * work from anywhere.
 */

const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith('.ts');

export function packageRoot(): string {
  let dir = dirname(here);
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'vigil') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    dir = dirname(dir);
  }
  throw new VigilError('VIGIL_INTERNAL', `vigil demo: cannot find the vigil package root above ${here} (is the package installed completely?)`);
}

/** The tasks module of the bundled example: the demo runs exactly what examples/highlights shows. */
export function highlightsTasksModule(): string {
  const path = join(packageRoot(), 'examples', 'highlights', 'tasks.ts');
  if (!existsSync(path)) throw new VigilError('VIGIL_INTERNAL', `vigil demo: the example pipeline is missing (${path}); reinstall vigil`);
  return path;
}

/** How to start this same CLI in a child process: the built one when we are built, else the source through tsx. */
export function cliCommand(): { command: string; args: string[] } {
  const root = packageRoot();
  if (!fromSource) return { command: process.execPath, args: [...SUPERVISOR_NODE_FLAGS, join(root, 'dist', 'src', 'cli', 'main.js')] };
  // tsx by absolute URL: the worker runs in a temporary directory, where a bare `--import tsx` resolves nothing.
  return { command: process.execPath, args: [...SUPERVISOR_NODE_FLAGS, ...tsxExecArgv(), join(root, 'src', 'cli', 'main.ts')] };
}
