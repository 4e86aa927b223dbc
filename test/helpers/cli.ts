import { spawn, type ChildProcess } from 'node:child_process';

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUPERVISOR_NODE_FLAGS } from '../../src/cli/node-flags.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const built = join(root, 'dist/src/cli/main.js');

/**
 * node's arguments for `vigil …`: the built CLI with the flags bin/vigil gives it, as users run it (npm test builds
 * first); else (VIGIL_TEST_FROM_SOURCE=1, or not built) the source through tsx. Every test that starts the CLI goes
 * through this: from source each start also loaded tsx and transpiled the CLI (~0.5 s of CPU per process).
 */
export const CLI: readonly string[] =
  existsSync(built) && !process.env.VIGIL_TEST_FROM_SOURCE ? [...SUPERVISOR_NODE_FLAGS, built] : ['--import', 'tsx', join(root, 'src/cli/main.ts')];

/** Starts `vigil <args>` as a real child process. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

/** Resolves with the exit code (or the signal name), failing after `ms`. */
export function exited(child: ChildProcess, ms: number): Promise<number | string> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    if (child.signalCode !== null) return resolve(child.signalCode);
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${ms} ms`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? -1);
    });
  });
}

export async function runCli(args: string[], ms = 30_000, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | string; output: string; ms: number }> {
  const started = Date.now();
  const child = startCli(args, env);
  const code = await exited(child, ms);
  return { code, output: child.output(), ms: Date.now() - started };
}
