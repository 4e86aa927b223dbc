import { Worker } from 'node:worker_threads';
import { RELAY_SOURCE } from '../forensics/inspector-relay.js';
import { serializeError } from '../task/serialize.js';
import type { RunnerInbound, RunnerOutbound } from './ipc.js';
import { killDescendants, killGroup } from './kill.js';
import { serveRunner } from './task-runner.js';

/**
 * Entry of an attempt process (isolation 'process'): runs exactly one attempt sent by the supervisor over IPC, then
 * exits. The process leads its own process group, so the supervisor can kill it with everything it started.
 *
 * argv: [inspectorSocket?] — where the helper thread serves the inspector relay for hang captures.
 */

if (!process.send) throw new Error('process-entry must be forked by the process executor (no IPC channel)');

let currentKey: string | null = null;
let inFlight = 0;
let drained: (() => void) | null = null;
const execPids = new Set<number>();

/**
 * The task runs on this process's main thread, so a busy loop would never see the IPC 'disconnect' of a dead
 * supervisor and the attempt would run on as an orphan (a second copy once its job is re-run elsewhere). A tiny
 * thread watches the parent pid instead and kills the attempt's group and its programs when the parent is gone.
 * The same thread serves the inspector relay (forensics/inspector-relay.ts): a busy main thread answers neither IPC
 * nor a diagnostic-report signal, but it does answer the inspector, and this thread is free to carry the messages.
 */
const WATCHDOG = `
const { parentPort, workerData } = require('node:worker_threads');
const groups = new Set();
parentPort.on('message', (m) => (m.started ? groups.add(m.pid) : groups.delete(m.pid)));
// kill.ts's killGroup and killDescendants, restated: this source runs as an eval'd thread without a loader, so it
// imports nothing.
const kill = (pid) => { try { process.kill(-pid, 'SIGKILL'); } catch {} };
const { readdirSync, readFileSync } = require('node:fs');
const childrenOf = (pid) => {
  const out = [];
  let tids = [];
  try { tids = readdirSync('/proc/' + pid + '/task'); } catch { return out; }
  for (const tid of tids) {
    try { for (const c of readFileSync('/proc/' + pid + '/task/' + tid + '/children', 'latin1').trim().split(' ')) if (c) out.push(Number(c)); } catch {}
  }
  return out;
};
const killDescendants = () => {
  const found = [];
  const queue = childrenOf(process.pid);
  while (queue.length > 0) {
    const pid = queue.shift();
    if (found.includes(pid)) continue;
    found.push(pid);
    try { process.kill(pid, 'SIGSTOP'); } catch {}
    queue.push(...childrenOf(pid));
  }
  for (const pid of found) { kill(pid); try { process.kill(pid, 'SIGKILL'); } catch {} }
};
setInterval(() => {
  if (process.ppid === workerData.ppid) return;
  // Programs that left the group (a detached spawn) first: once this process is gone, nothing links them to it.
  killDescendants();
  for (const pid of groups) kill(pid);
  kill(process.pid);
  process.kill(process.pid, 'SIGKILL');
}, 250);
${RELAY_SOURCE}
if (workerData.inspectorSocket) serveInspectorRelay(workerData.inspectorSocket);
`;
const inspectorSocket = process.argv[2] || null;
// execArgv: [] — the helper needs no loader (tsx), which would only slow its start and share the loader's thread.
const watchdog = new Worker(WATCHDOG, { eval: true, execArgv: [], workerData: { ppid: process.ppid, inspectorSocket } });
watchdog.unref();

function post(message: RunnerOutbound): void {
  if (!process.connected) return;
  if (message.type === 'exec-started') {
    execPids.add(message.pid);
    watchdog.postMessage({ started: true, pid: message.pid });
  }
  if (message.type === 'exec-ended') {
    execPids.delete(message.pid);
    watchdog.postMessage({ started: false, pid: message.pid });
  }
  inFlight += 1;
  process.send!(message, undefined, undefined, () => {
    inFlight -= 1;
    if (inFlight === 0) drained?.();
  });
}

/** Messages are sent asynchronously: exiting before they are written would lose the attempt's end. */
function flushed(): Promise<void> {
  if (inFlight === 0 || !process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    drained = resolve;
  });
}

async function exitAfter(code: number): Promise<void> {
  await flushed();
  process.exit(code);
}

process.on('error', () => {
  // IPC errors after the supervisor went away: 'disconnect' ends this process.
});

process.on('disconnect', () => {
  // The supervisor is gone: the attempt and everything it started go with it — descendants that left the group
  // first, while this process is still their parent.
  killDescendants();
  for (const pid of execPids) killGroup(pid);
  killGroup(process.pid);
});

process.on('uncaughtException', (err) => {
  // A throw from a timer or an unhandled rejection: the task failed, report it like a throw from run().
  if (currentKey !== null) post({ type: 'end', key: currentKey, end: { type: 'threw', error: serializeError(err) } });
  currentKey = null;
  void exitAfter(1);
});

serveRunner(
  {
    post,
    onMessage: (handler) =>
      process.on('message', (message: RunnerInbound) => {
        if (message.type === 'run') currentKey = message.spec.key;
        handler(message);
      }),
  },
  {
    afterEnd: () => {
      currentKey = null;
      void exitAfter(0);
    },
  },
);
