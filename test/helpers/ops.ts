import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DoctorReport } from '../../src/ops/doctor/report.js';
import { CLI } from './cli.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const OPS_TASKS = resolve(root, 'test/fixtures/ops-tasks.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI process from source (tsx), output collected as it comes, killed if it outlives `timeoutMs`. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly done: Promise<CliResult>;

  constructor(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}) {
    this.child = spawn(process.execPath, [...CLI, ...args], {
      cwd: root,
      env: { ...process.env, VIGIL_STORE: '', VIGIL_DEBUG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.done = new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves with the match once stderr matches; fails after `ms` with what was printed. */
  async waitForStderr(pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(this.stderr);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > end) {
        throw new Error(`stderr never matched ${pattern} (exit ${this.child.exitCode}/${this.child.signalCode}):\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export function cli(...args: string[]): Promise<CliResult> {
  return new CliProcess(args).done;
}

export async function doctor(store: string, ...extra: string[]): Promise<{ result: CliResult; report: DoctorReport }> {
  const result = await cli('doctor', '--json', '--store', store, ...extra);
  try {
    return { result, report: JSON.parse(result.stdout) as DoctorReport };
  } catch {
    throw new Error(`doctor --json printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

export function failing(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
}

export function tempDir(): { dir: string; store: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ops-'));
  return { dir, store: `sqlite:${join(dir, 'vigil.db')}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
