import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PostgreSQL server of the test's own, for the tests that stop and restart the database: initdb in a temporary
 * directory, its own port on 127.0.0.1, trust authentication. The shared server other suites use is never touched.
 * Under root (initdb refuses it) the server runs as the `postgres` user through runuser.
 *
 * The server is a daemon (pg_ctl detaches it): if the test process dies, an exit handler stops it; a server left by
 * a SIGKILLed test is found by its directory name (vigil-pg-*) in /tmp.
 */
export interface PrivatePg {
  /** Superuser URL of the `postgres` database; add `?schema=` for a store. */
  url: string;
  port: number;
  dir: string;
  /** Stops the server: `fast` (connections terminated, clean shutdown) or `immediate` (as a crash: recovery at start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Down for `downMs`, then up again; resolves once it accepts connections. */
  restart(downMs: number, mode?: 'fast' | 'immediate'): Promise<void>;
  cleanup(): void;
}

function pgBin(): string | null {
  const fromEnv = process.env.VIGIL_TEST_PG_BIN;
  if (fromEnv) return existsSync(join(fromEnv, 'initdb')) ? fromEnv : null;
  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  } catch {
    return null;
  }
  for (const v of versions) if (existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) return `/usr/lib/postgresql/${v}/bin`;
  return null;
}

function postgresUser(): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('postgres:'));
  } catch {
    return false;
  }
}

/** Why a private server can not be started here, or false. */
export function privatePgSkip(): string | false {
  if (process.platform !== 'linux') return 'a private PostgreSQL server is only started on Linux';
  if (!pgBin()) return 'no PostgreSQL server binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or VIGIL_TEST_PG_BIN';
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no postgres user to run a private server as';
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startPrivatePg(): Promise<PrivatePg> {
  const skip = privatePgSkip();
  if (skip) throw new Error(skip);
  const bin = pgBin()!;
  const asRoot = process.getuid?.() === 0;
  const command = (tool: string, args: string[]): [string, string[]] => {
    const file = join(bin, tool);
    return asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  };
  const run = (tool: string, args: string[]): void => {
    const [cmd, argv] = command(tool, args);
    execFileSync(cmd, argv, { stdio: 'pipe', timeout: 60_000, cwd: '/' });
  };
  // Stops and starts during a run do not hold the test's event loop (its workers' clocks keep going).
  const runAsync = async (tool: string, args: string[]): Promise<void> => {
    const [cmd, argv] = command(tool, args);
    await promisify(execFile)(cmd, argv, { timeout: 60_000, cwd: '/' });
  };
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  if (asRoot) {
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))!.split(':');
    chownSync(dir, Number(passwd[2]), Number(passwd[3]));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // fsync off: a restart here is a process stopping, never the machine losing its page cache.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const startArgs = ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', options, 'start'];
  const stopArgs = (mode: 'fast' | 'immediate') => ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'];
  const running = () => existsSync(join(data, 'postmaster.pid'));
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    process.off('exit', cleanup);
    try {
      if (running()) run('pg_ctl', stopArgs('immediate'));
    } catch {
      // Already down.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  try {
    run('pg_ctl', startArgs);
  } catch (err) {
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').slice(-2_000) : '';
    cleanup();
    throw new Error(`the private PostgreSQL server did not start: ${(err as Error).message}\n${log}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    stop: (mode = 'fast') => runAsync('pg_ctl', stopArgs(mode)),
    start: () => runAsync('pg_ctl', startArgs),
    async restart(downMs, mode = 'fast') {
      await runAsync('pg_ctl', stopArgs(mode));
      await new Promise((r) => setTimeout(r, downMs));
      await runAsync('pg_ctl', startArgs);
    },
    cleanup,
  };
}
