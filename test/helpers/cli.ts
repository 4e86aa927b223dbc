import { spawn, type ChildProcess } from 'node:child_process';

import { existsSync } from 'node:fs';

/** The built CLI when `npm run build` has run (as in CI: what users run), else the source through tsx. */
export const CLI = existsSync('dist/src/cli/main.js') && !process.env.VIGIL_TEST_FROM_SOURCE ? ['dist/src/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];

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
