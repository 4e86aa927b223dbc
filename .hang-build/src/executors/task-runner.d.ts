import { type RunnerInbound, type RunnerOutbound } from './ipc.js';
import type { AttemptEnd } from './types.js';
/**
 * Runs attempts inside a worker thread or an attempt process: loads the tasks module, builds `ctx`, runs the task
 * and reports. One attempt at a time; the code around it (thread-entry, process-entry) supplies the port.
 */
export interface RunnerPort {
    post(message: RunnerOutbound): void;
    onMessage(handler: (message: RunnerInbound) => void): void;
}
export interface RunnerHooks {
    /** Called after the task settled, before the end is posted (thread mode writes its stdout markers here). */
    beforeEnd?(key: string): void;
    /** Called after the end was posted. */
    afterEnd?(key: string, end: AttemptEnd): void;
}
export declare function serveRunner(port: RunnerPort, hooks?: RunnerHooks): void;
