import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { PythonThreadStack, StackFrame } from '../types.js';

/**
 * Python stacks for hang reports of command tasks (issue #14). A `sitecustomize` put first on PYTHONPATH registers
 * `faulthandler` on SIGUSR2 in every Python process of the attempt (forked children re-register through
 * os.register_at_fork, spawned ones import it again), each writing to `<dir>/<pid>.txt`, and marks `<pid>.ready`
 * once the handler is in place. Capture signals only pids that are in the attempt's tree AND marked ready: SIGUSR2's
 * default action kills, so a process that is not Python (or not yet armed) is never sent it.
 *
 * faulthandler dumps from the C signal handler, so a thread blocked in read(), a lock or time.sleep still shows
 * the Python line it is stuck on. Not covered: `python -I`/`-E`/`-S` (PYTHONPATH or site ignored) and programs that
 * install their own SIGUSR2 handler.
 */

export const PY_STACK_SIGNAL = 'SIGUSR2';

const SITECUSTOMIZE = `# Written by Vigil: lets the supervisor ask this process for its Python stack (hang reports).
import os as _os, sys as _sys

def _vigil_arm():
    d = _os.environ.get("VIGIL_PYSTACK_DIR")
    if not d or not _os.path.isdir(d):
        return
    try:
        import faulthandler, signal
        pid = _os.getpid()
        f = open(_os.path.join(d, "%d.txt" % pid), "a")
        faulthandler.register(signal.SIGUSR2, file=f, all_threads=True, chain=False)
        globals()["_vigil_file"] = f
        open(_os.path.join(d, "%d.ready" % pid), "w").close()
    except Exception:
        pass

_vigil_arm()
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_vigil_arm)

# Python imports only the first sitecustomize on the path: run the one this file shadows.
def _vigil_chain():
    here = _os.path.dirname(_os.path.abspath(__file__))
    for p in _sys.path:
        if _os.path.abspath(p or ".") == here:
            continue
        cand = _os.path.join(p or ".", "sitecustomize.py")
        if _os.path.isfile(cand):
            with open(cand) as src:
                exec(compile(src.read(), cand, "exec"), {"__name__": "sitecustomize", "__file__": cand})
            return

try:
    _vigil_chain()
except Exception:
    pass
`;

let siteDir: string | null = null;

/** The directory holding Vigil's sitecustomize.py (written once per supervisor process). */
function sitecustomizeDir(): string {
  if (siteDir && existsSync(join(siteDir, 'sitecustomize.py'))) return siteDir;
  const dir = join(tmpdir(), `vigil-py-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sitecustomize.py'), SITECUSTOMIZE);
  siteDir = dir;
  return dir;
}

/** One attempt's stack files: the env to add to the program, and the capture. */
export class PythonStacks {
  readonly dir: string;
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'vigil-pystack-'));
  }

  /** PYTHONPATH gets Vigil's directory first (the program's own PYTHONPATH is kept after it). */
  env(base: Record<string, string | undefined>): Record<string, string> {
    const inherited = base.PYTHONPATH ?? process.env.PYTHONPATH;
    return {
      PYTHONPATH: inherited ? `${sitecustomizeDir()}${delimiter}${inherited}` : sitecustomizeDir(),
      VIGIL_PYSTACK_DIR: this.dir,
    };
  }

  /**
   * Asks every armed Python process among `pids` for its stack and waits (at most budgetMs) for the dumps. Returns
   * the threads per pid; pids without a dump are absent.
   */
  async capture(pids: number[], budgetMs: number): Promise<Map<number, PythonThreadStack[]>> {
    const out = new Map<number, PythonThreadStack[]>();
    const asked = new Map<number, number>();
    for (const pid of pids) {
      if (!existsSync(join(this.dir, `${pid}.ready`))) continue;
      const file = join(this.dir, `${pid}.txt`);
      const offset = sizeOf(file);
      try {
        process.kill(pid, PY_STACK_SIGNAL);
        asked.set(pid, offset);
      } catch {
        // Gone already.
      }
    }
    if (asked.size === 0) return out;
    const end = Date.now() + Math.max(50, Math.min(budgetMs, 1_000));
    const last = new Map<number, number>();
    // The dump is written by the signal handler in one go; a size that stopped growing is a finished dump.
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      let pending = 0;
      for (const [pid, offset] of asked) {
        if (out.has(pid)) continue;
        const size = sizeOf(join(this.dir, `${pid}.txt`));
        if (size > offset && last.get(pid) === size) out.set(pid, parseFaulthandler(readFrom(join(this.dir, `${pid}.txt`), offset)));
        else pending++;
        last.set(pid, size);
      }
      if (pending === 0) break;
    }
    return out;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  return readFileSync(file).subarray(offset).toString('utf8');
}

/**
 * faulthandler's format:
 *   Thread 0x00007f… (most recent call first):      (or "Current thread 0x…")
 *     File "/path/x.py", line 12 in work
 * Frames are innermost first, like every stack in a hang report.
 */
export function parseFaulthandler(text: string): PythonThreadStack[] {
  const threads: PythonThreadStack[] = [];
  let current: PythonThreadStack | null = null;
  for (const line of text.split('\n')) {
    const head = /^(Current thread|Thread) (0x[0-9a-f]+)/i.exec(line);
    if (head) {
      current = { thread: head[2]!, current: head[1] === 'Current thread', frames: [] };
      threads.push(current);
      continue;
    }
    const frame = /^\s+File "(.*)", line (\d+) in (.*)$/.exec(line);
    if (frame && current) {
      const f: StackFrame = { functionName: frame[3]!.trim(), file: frame[1]!, line: Number(frame[2]), column: 0 };
      current.frames.push(f);
    }
  }
  return threads;
}
