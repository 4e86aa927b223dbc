import { startedProcesses } from './roots.js';
import type { RunnerOutbound } from './ipc.js';
import type { AttemptChannel } from './types.js';

/** What a running task says that both the thread and the process executor pass on to the engine unchanged. */
export type RelayedMessage = Exclude<RunnerOutbound, { type: 'end' } | { type: 'diagnosis' }>;

/**
 * Passes one runner message to the engine's channel. `answer` replies to requests (spawn, all); `execPids` tracks the
 * programs started through ctx.exec so the executor can kill their groups with the attempt.
 */
export function relay(
  message: RelayedMessage,
  channel: AttemptChannel,
  execPids: Set<number>,
  answer: (id: number, call: () => Promise<unknown>) => void,
): void {
  switch (message.type) {
    case 'log':
      return channel.log(message.stream, message.line, message.ts);
    case 'heartbeat':
      return channel.heartbeat(message.details);
    case 'progress':
      return channel.progress(message.progress);
    case 'activity':
      return channel.activity();
    case 'spawn':
      return answer(message.id, () => channel.spawn(message.children));
    case 'all':
      return answer(message.id, () => channel.all(message.request));
    case 'is-current':
      return answer(message.id, () => (channel.isCurrent ? channel.isCurrent() : Promise.resolve(true)));
    case 'exec-started':
      execPids.add(message.pid);
      startedProcesses.add(message.pid);
      return channel.processStarted(message.pid);
    case 'exec-ended':
      execPids.delete(message.pid);
      startedProcesses.remove(message.pid);
      return channel.processEnded(message.pid);
  }
}
