import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A guardian of this process's process groups: a tiny `sh` that holds the read end of a pipe from this process and
 * is told each group as it starts (`+PGID`) and ends (`-PGID`). When this process dies — even by SIGKILL, which no
 * handler sees — the pipe reaches end-of-file and the guardian kills every group still listed: command programs,
 * ctx.exec programs, executor hosts and attempt processes with everything they started in their groups. Node can not
 * call prctl(PR_SET_PDEATHSIG), and a death signal would reach only the direct child anyway, not its group.
 *
 * A listed process may have started a program in a group of its own that the guardian was never told of: a ctx.exec
 * program whose start was still on its way to this process (thread → host → supervisor) when it died, or a task's
 * own `spawn(…, { detached: true })`. SIGKILLing the listed groups at once would re-parent such a program to init and
 * lose the only link to it. So the guardian first SIGSTOPs the listed groups (a stopped process starts nothing more
 * and stays its children's parent), then walks down from each group's leader through /proc's children lists
 * (stopping each process found), and only then SIGKILLs it all, with the groups the found processes lead.
 *
 * The guardian stays in this process's own group (a kill of the whole group takes it along; then the store's record
 * of started processes, roots.ts, is the backstop) and ignores SIGINT/SIGTERM/SIGHUP (a Ctrl-C must not take it
 * before the worker has finished draining).
 */

// dash-compatible, builtins only (no ps: not every image has procps). The walk reads the `children` lists of the
// group leaders' threads, then of what it found, stopping each process before its own list is read (so the list is
// final): its cost is the size of the tree, not of the machine's process table. A live pid names a group only when
// it leads one, so `kill -9 -PID` of a found process hits its group or nothing.
export const GUARDIAN_SCRIPT = `trap '' INT TERM HUP
pgs=''
while IFS= read -r line; do
  case "$line" in
    +*) pgs="$pgs \${line#+}" ;;
    -*) n=''; for p in $pgs; do [ "$p" = "\${line#-}" ] || n="$n $p"; done; pgs=$n ;;
  esac
done
[ -n "$pgs" ] || exit 0
for p in $pgs; do kill -STOP "-$p" 2>/dev/null; done
all=''
queue=$pgs
while [ -n "$queue" ]; do
  next=''
  for p in $queue; do
    all="$all $p "
    for c in /proc/$p/task/*/children; do
      kids=''
      # The list ends without a newline: read fails at its end, but has read it.
      read -r kids < "$c" 2>/dev/null
      for k in $kids; do
        case "$all $next " in *" $k "*) continue ;; esac
        kill -STOP "$k" 2>/dev/null
        next="$next $k"
      done
    done
  done
  queue=$next
done
for p in $pgs; do kill -9 "-$p" 2>/dev/null; done
for p in $all; do kill -9 "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
`;

let guardian: ChildProcess | null = null;
/** When the last guardian could not be started: tried again a second later, not at every group. */
let failedAt = -Infinity;
const guarded = new Set<number>();
let idleTimer: NodeJS.Timeout | null = null;
/** A guardian with nothing to guard goes away after this long (no child process outlives the work). */
const IDLE_MS = 500;

function ensure(): ChildProcess | null {
  if (guardian || Date.now() - failedAt < 1_000 || process.platform === 'win32') return guardian;
  try {
    const child = spawn('/bin/sh', ['-c', GUARDIAN_SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {
      failedAt = Date.now();
      if (guardian === child) {
        guardian = null;
        guarded.clear();
      }
    });
    child.on('exit', () => {
      // Killed from outside: start another with the next group (groups listed before are the backstop's).
      if (guardian === child) {
        guardian = null;
        guarded.clear();
      }
    });
    child.stdin!.on('error', () => undefined);
    // Neither the guardian nor its pipe keeps this process alive.
    child.unref();
    (child.stdin as unknown as { unref?(): void }).unref?.();
    guardian = child;
  } catch {
    failedAt = Date.now();
  }
  return guardian;
}

/**
 * Called before a process that will be guarded is started: the guardian must be running before the process is, or a
 * supervisor SIGKILLed in between (while the guardian itself is still being started, milliseconds under load) leaves
 * a guardian that reads end-of-file with nothing listed, and the program runs on. Once it runs, telling it of the
 * new group is one write right after the spawn returns.
 */
export function armGuardian(): void {
  if (!ensure()) return;
  // Nothing may be guarded in the end (the spawn failed): the idle rule still ends the guardian then.
  if (guarded.size === 0) scheduleIdle();
}

export function guardGroup(pgid: number): void {
  if (!(pgid > 1)) return;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  const g = ensure();
  if (!g) return;
  guarded.add(pgid);
  g.stdin!.write(`+${pgid}\n`);
}

export function releaseGroup(pgid: number): void {
  if (!guarded.delete(pgid) || !guardian) return;
  guardian.stdin!.write(`-${pgid}\n`);
  if (guarded.size === 0) scheduleIdle();
}

function scheduleIdle(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = null;
    if (guarded.size > 0 || !guardian) return;
    // End of input with nothing listed: the guardian exits without killing anything.
    guardian.stdin!.end();
    guardian = null;
  }, IDLE_MS);
  idleTimer.unref();
}

/** The guardian's pid (tests). */
export function guardianPid(): number | null {
  return guardian?.pid ?? null;
}
