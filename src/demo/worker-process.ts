import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { cliCommand } from './paths.js';

export interface WorkerProcessOptions {
  tasksModule: string;
  storeUrl: string;
  concurrency: number;
  /** Short, so that the jobs of a killed worker are recovered within seconds. */
  lease: string;
  /** The worker's own log (it logs every attempt); kept out of the demo's terminal output. */
  logFile: string;
  cwd: string;
}

/**
 * `vigil worker` as a real child process, so that the demo can SIGKILL it like a crash would: no cleanup, no
 * goodbye to the store. What survives such a kill is exactly what the store holds.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly options: WorkerProcessOptions) {
    const { command, args } = cliCommand();
    const fd = openSync(options.logFile, 'a');
    try {
      this.child = spawn(
        command,
        [...args, 'worker', '--tasks', options.tasksModule, '--store', options.storeUrl, '--concurrency', String(options.concurrency), '--lease', options.lease, '--drain', '5s'],
        { cwd: options.cwd, stdio: ['ignore', fd, fd], env: { ...process.env, VIGIL_STORE: options.storeUrl } },
      );
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      this.child.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** A crash as the OS would do it. */
  async crash(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful stop (drain), then SIGKILL if it does not end within `ms`. */
  async stop(ms = 10_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
