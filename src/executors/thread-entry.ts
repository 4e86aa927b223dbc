import { openSync, readSync, readlinkSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { DIRECT_END_MAX_BYTES, END_MARKER, jsonLines, KEY_AT, KEY_LENGTH, KEY_MAX_UNITS, phaseOf, seqOf, SLOT_DIRECT, SLOT_IDLE, SLOT_RUNNING, SLOT_STATE, slotWord, type DirectEnd, type DirectHello, type DirectInMessage, type RunnerInbound, type RunnerOutbound, type ThreadHello, type ThreadWarmed } from './ipc.js';
import { serveRunner } from './task-runner.js';

/** Entry of a task thread inside an executor host: runs attempts one after the other, as the host asks. */

if (!parentPort) throw new Error('thread-entry must run in a worker thread started by the executor host');
const port = parentPort;

// A sync fs call runs on the calling thread, so /proc/thread-self is this thread: "<pid>/task/<tid>".
let tid: number | null = null;
try {
  tid = Number(readlinkSync('/proc/thread-self').split('/').pop()) || null;
} catch {
  // Not Linux: the programs a task starts are not tracked by thread.
}
port.postMessage({ type: 'os-thread', tid } satisfies ThreadHello);

// Markers written on [stdout, stderr], shared with the host (thread-host.ts); whether the running attempt wrote to
// each stream since its start.
const data = workerData as { markers: SharedArrayBuffer; directFd: number | null; directIn: { path: string; token: string; slot: number } | null };
const markers = new Int32Array(data.markers);
const keys = new Uint16Array(data.markers, KEY_AT, 2 * KEY_MAX_UNITS);
const directFd = data.directFd;
/** This thread's id in its host (-1 when the host gave none); the sequence number of its running attempt. */
const slotId = data.directIn?.slot ?? -1;
let seq = 0;
/**
 * This thread's own /proc children list (Linux), read before a direct end: an attempt that left a program running ends
 * through the host, which kills the program with the attempt (DESIGN G1; thread-host.ts killSpawned). Not the
 * process tree code itself: it would cost every thread its modules (~5 MiB through tsx) for a case that is rare.
 */
let childrenFd: number | null = null;
if (tid !== null && directFd !== null) {
  try {
    childrenFd = openSync('/proc/thread-self/children', 'r');
  } catch {
    // Without it the host does not know the thread's programs either (thread-host.ts: no ThreadChildren).
  }
}
const oneByte = Buffer.alloc(1);
/** Whether this thread has started programs that are still running (a pread at 0 regenerates the list). */
function hasChildren(): boolean {
  if (childrenFd === null) return false;
  try {
    return readSync(childrenFd, oneByte, 0, 1, 0) > 0;
  } catch {
    return true;
  }
}
/** The running attempt posted nothing yet (no log, heartbeat, request…): its end may go straight to the supervisor. */
let quiet = true;
let runAt = 0;
/** The attempt that just ended wrote to its console (its end must follow its lines: END_MARKER). */
let printed = false;
const dirty = { stdout: false, stderr: false };
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);
process.stdout.write = ((...args: Parameters<typeof process.stdout.write>) => {
  dirty.stdout = true;
  return writeOut(...args);
}) as typeof process.stdout.write;
process.stderr.write = ((...args: Parameters<typeof process.stderr.write>) => {
  dirty.stderr = true;
  return writeErr(...args);
}) as typeof process.stderr.write;

/**
 * Writes a quiet attempt's end to the supervisor's pipe (see DIRECT_END_FD); false when the end must go through the
 * host: the attempt was not quiet, the end is too large, or the host claimed it (SLOT_VIA_HOST).
 */
function endDirect(message: Extract<RunnerOutbound, { type: 'end' }>): boolean {
  if (directFd === null || !quiet || printed) return false;
  const direct: DirectEnd = { type: 'end', key: message.key, end: message.end, reusable: true, ranMs: performance.now() - runAt, slot: slotId };
  const line = `${JSON.stringify(direct)}\n`;
  // Most lines are ASCII and short: the byte count is only needed near the bound (UTF-8 is at most 3 bytes per unit).
  const bytes = line.length * 3 <= DIRECT_END_MAX_BYTES ? line.length : Buffer.byteLength(line);
  if (bytes > DIRECT_END_MAX_BYTES) return false;
  // Programs the task started and left running die with the attempt (DESIGN G1): the host kills them, then reports.
  if (hasChildren()) return false;
  const running = slotWord(seq, SLOT_RUNNING);
  if (Atomics.compareExchange(markers, SLOT_STATE, running, slotWord(seq, SLOT_DIRECT)) !== running) return false;
  try {
    // One write(2) of the whole line (blocking socket, far below its buffer): lines of threads never interleave.
    const wrote = writeSync(directFd, line);
    if (wrote !== bytes && wrote < Buffer.byteLength(line)) {
      const rest = Buffer.from(line).subarray(wrote);
      for (let at = 0; at < rest.length; ) at += writeSync(directFd, rest, at);
    }
  } catch {
    // The supervisor is gone (EPIPE): the host is being torn down with it; nobody waits for this end.
  }
  return true;
}

/**
 * Takes an attempt sent on this thread's DIRECT_IN socket (ipc.ts): its key where the host reads it, then idle → the
 * next seq, RUNNING. False when the host claimed it first (a kill before the thread read it): it must not run.
 */
function startDirect(key: string): boolean {
  if (key.length > KEY_MAX_UNITS) return false;
  const word = Atomics.load(markers, SLOT_STATE);
  const phase = phaseOf(word);
  if (phase !== SLOT_IDLE && phase !== SLOT_DIRECT) return false;
  const next = seqOf(word) + 1;
  const half = next & 1;
  for (let i = 0; i < key.length; i++) keys[half * KEY_MAX_UNITS + i] = key.charCodeAt(i);
  Atomics.store(markers, KEY_LENGTH + half, key.length);
  if (Atomics.compareExchange(markers, SLOT_STATE, word, slotWord(next, SLOT_RUNNING)) !== word) return false;
  seq = next;
  return true;
}

/** Opens this thread's DIRECT_IN socket and feeds what comes on it to `handler`, one JSON line per message. */
function openDirectIn(handler: (message: RunnerInbound) => void): void {
  const target = data.directIn;
  if (!target) return;
  const socket = connect(target.path);
  // The thread's life is its port's and its attempts'; a connection must not keep it up, nor its failure end it.
  socket.unref();
  socket.setNoDelay?.(true);
  socket.on('error', () => socket.destroy());
  socket.on('connect', () => socket.write(`${JSON.stringify({ token: target.token, host: process.pid, slot: target.slot } satisfies DirectHello)}\n`));
  socket.on(
    'data',
    jsonLines<DirectInMessage>((message) => {
      if (message.type === 'abort' || startDirect(message.spec.key)) handler(message);
    }),
  );
}

serveRunner(
  {
    post: (message) => {
      if (message.type === 'end' && endDirect(message)) return;
      if (message.type !== 'diagnosis') quiet = false;
      port.postMessage(message);
    },
    onMessage: (handler) => {
      const handle = (message: RunnerInbound): void => {
        if (message.type === 'run') {
          quiet = true;
          runAt = performance.now();
        }
        handler(message);
      };
      port.on('message', (message: RunnerInbound) => {
        // A run from the host: the host set the word (its seq, RUNNING or VIA_HOST) before it posted.
        if (message.type === 'run') seq = seqOf(Atomics.load(markers, SLOT_STATE));
        handle(message);
      });
      openDirectIn(handle);
    },
  },
  {
    beforeEnd: () => {
      printed = dirty.stdout || dirty.stderr;
      // Marks the end of this attempt's console output on each stream it wrote to, and counts the marker where the
      // host reads it (see END_MARKER): an attempt that printed nothing costs no stream message at all.
      if (dirty.stdout) {
        Atomics.add(markers, 0, 1);
        writeOut(END_MARKER);
      }
      if (dirty.stderr) {
        Atomics.add(markers, 1, 1);
        writeErr(END_MARKER);
      }
      dirty.stdout = dirty.stderr = false;
    },
    warmed: () => port.postMessage({ type: 'warmed' } satisfies ThreadWarmed),
  },
);
