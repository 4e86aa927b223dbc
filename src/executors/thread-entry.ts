import { readlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
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

serveRunner(
  {
    post: (message) => port.postMessage(message),
    onMessage: (handler) => port.on('message', (message: RunnerInbound) => handler(message)),
  },
  {
    beforeEnd: () => {
      // Marks the end of this attempt's console output on both streams (see END_MARKER).
      process.stdout.write(END_MARKER);
      process.stderr.write(END_MARKER);
    },
  },
);
