import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { END_MARKER, type RunnerInbound, type ThreadHello } from './ipc.js';
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
const markers = new Int32Array((workerData as { markers: SharedArrayBuffer }).markers);
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

serveRunner(
  {
    post: (message) => port.postMessage(message),
    onMessage: (handler) => port.on('message', (message: RunnerInbound) => handler(message)),
  },
  {
    beforeEnd: () => {
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
  },
);
