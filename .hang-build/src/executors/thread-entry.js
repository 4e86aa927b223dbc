import { parentPort } from 'node:worker_threads';
import { END_MARKER } from './ipc.js';
import { serveRunner } from './task-runner.js';
/** Entry of a task thread inside an executor host: runs attempts one after the other, as the host asks. */
if (!parentPort)
    throw new Error('thread-entry must run in a worker thread started by the executor host');
const port = parentPort;
serveRunner({
    post: (message) => port.postMessage(message),
    onMessage: (handler) => port.on('message', (message) => handler(message)),
}, {
    beforeEnd: () => {
        // Marks the end of this attempt's console output on both streams (see END_MARKER).
        process.stdout.write(END_MARKER);
        process.stderr.write(END_MARKER);
    },
});
//# sourceMappingURL=thread-entry.js.map