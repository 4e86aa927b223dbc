import type { StackFrame } from '../types.js';
import { type PendingResource } from './pending.js';
/**
 * Takes the JS stack of another thread through the inspector protocol, whatever carries the messages (a worker
 * session through NodeWorker, or a session connected to a process's main thread). Bounded by `deadline`; leaves the
 * thread running.
 *
 * Why it works on every kind of JS hang: inspector messages reach a thread through a V8 interrupt, which a busy loop
 * and Atomics.wait both service. `Debugger.pause` then stops the thread where it is. An idle thread (awaiting
 * something that never settles) runs no JS for the pause to stop, so we also evaluate the pending-resources probe:
 * the pending pause then stops inside that probe, which tells us the thread was idle, and the probe's answer says
 * what the thread waits for. A thread in a system call services nothing: not even `Debugger.enable` is answered.
 */
export interface CdpChannel {
    /** Resolves with the result, rejects with the protocol error. */
    send(method: string, params?: Record<string, unknown>): Promise<unknown>;
    onEvent(listener: (method: string, params: unknown) => void): void;
}
export interface JsCapture {
    /** The thread answered the inspector (false: it sits in a system call or native code). */
    responsive: boolean;
    stack: StackFrame[];
    asyncStack: StackFrame[];
    pendingResources?: PendingResource[];
    notes: string[];
}
declare const TIMEOUT: unique symbol;
/** `answerBy`: when a thread that has not answered Debugger.enable is declared unresponsive (≤ deadline). */
export declare function captureJsStack(channel: CdpChannel, deadline: number, answerBy?: number): Promise<JsCapture>;
/** The value, or TIMEOUT once the deadline (performance.now() ms) passes. */
export declare function within<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMEOUT>;
export { TIMEOUT };
