import type { Worker, WorkerEvent } from '../engine/worker.js';
import { errorMessage } from '../errors.js';
import type { Vigil } from '../vigil.js';
import { stderrLine } from './progress.js';

/**
 * One stderr line per notable worker event (started, finished, retrying, enforcing, errors): enough to follow a
 * worker in a terminal or a log file; details stay in the store (`vigil inspect`).
 */
export function logWorkerEvents(worker: Worker, vigil: Vigil, write: (line: string) => void = stderrLine): () => void {
  const line = (text: string): void => write(`${new Date().toISOString()} ${text}`);
  const listener = (event: WorkerEvent): void => {
    switch (event.type) {
      case 'started':
        line(`job ${event.jobId} ${event.task}: attempt ${event.attempt} started`);
        break;
      case 'enforcing':
        line(`job ${event.jobId}: attempt ${event.attempt} ${event.kind}: ${event.message}; stopping it`);
        break;
      case 'finished':
        if (!event.recorded) {
          line(`job ${event.jobId}: attempt ${event.attempt} ${event.outcome}; outcome not recorded: ${event.reason ?? 'the store did not take it'}`);
        } else if (event.outcome === 'succeeded') {
          line(`job ${event.jobId}: attempt ${event.attempt} succeeded`);
        } else {
          // The event carries the outcome only; the message is on the job (one read, only for failures).
          void vigil
            .get(event.jobId)
            .then((job) => job.error?.message ?? '')
            .catch(() => '')
            .then((message) => {
              const what = event.retrying ? 'failed, will retry' : 'failed';
              line(`job ${event.jobId}: attempt ${event.attempt} ${what} (${event.outcome})${message ? `: ${message}` : ''}`);
            });
        }
        break;
      case 'error':
        line(`worker: ${event.message}: ${errorMessage(event.error)}`);
        break;
      case 'recovered':
        for (const j of event.jobs) line(`job ${j.jobId} ${j.task}: recovered from a dead worker (${j.message}); now ${j.state}`);
        break;
      default:
        break;
    }
  };
  worker.on('event', listener);
  return () => worker.off('event', listener);
}
