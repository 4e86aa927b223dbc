import type { HangReport, Json, LogStream, Progress, SerializedError } from '../types.js';
import type { AllRequest, AttemptEnd, AttemptSpec, SpawnRequest } from './types.js';
/**
 * Wire format between the three places an attempt touches:
 *   supervisor ⇄ host process (child_process IPC, 'advanced' serialization)
 *   host ⇄ worker thread (worker.postMessage), or supervisor ⇄ attempt process (process mode).
 * The runner (thread or process) speaks RunnerInbound/RunnerOutbound; the host adds HostInbound/HostOutbound.
 * Every attempt-scoped message carries the attempt key so late messages for a finished attempt can be dropped.
 */
/** Anything → runner. */
export type RunnerInbound = {
    type: 'run';
    spec: AttemptSpec;
} | {
    type: 'abort';
    key: string;
    reason: string;
} | ReplyMessage | DiagnoseRequest;
export type ReplyMessage = {
    type: 'reply';
    key: string;
    id: number;
    ok: true;
    value: unknown;
} | {
    type: 'reply';
    key: string;
    id: number;
    ok: false;
    error: SerializedError;
};
/** Sent to a runner's port (e.g. by forensics through the host's Worker object); answered with a DiagnoseReply. */
export interface DiagnoseRequest {
    type: 'diagnose';
    id: number;
}
export interface DiagnoseReply {
    type: 'diagnosis';
    id: number;
    resources: Array<{
        type: string;
        description: string;
    }>;
    /** Set when the resources could not be collected. */
    error?: string;
}
/** Runner → anything. Attempt-scoped messages come in order. */
export type RunnerOutbound = {
    type: 'log';
    key: string;
    stream: LogStream;
    line: string;
    ts: number;
} | {
    type: 'heartbeat';
    key: string;
    details: Json | undefined;
} | {
    type: 'progress';
    key: string;
    progress: Progress;
} | {
    type: 'activity';
    key: string;
} | {
    type: 'spawn';
    key: string;
    id: number;
    children: SpawnRequest[];
} | {
    type: 'all';
    key: string;
    id: number;
    request: AllRequest;
} | {
    type: 'exec-started';
    key: string;
    pid: number;
} | {
    type: 'exec-ended';
    key: string;
    pid: number;
} | {
    type: 'end';
    key: string;
    end: AttemptEnd;
} | DiagnoseReply;
/** Supervisor → host. */
export type HostInbound = {
    type: 'start';
    spec: AttemptSpec;
} | {
    type: 'abort';
    key: string;
    reason: string;
} | {
    type: 'kill';
    key: string;
} | {
    type: 'capture';
    key: string;
    id: number;
    budgetMs: number;
} | ReplyMessage;
/** Host → supervisor: the runner's attempt messages (forwarded), plus answers to captures. */
export type HostOutbound = Exclude<RunnerOutbound, DiagnoseReply> | {
    type: 'captured';
    id: number;
    where: HangReport['where'];
};
/** Longest line kept: a task printing a 100 MB line without a newline must not hold 100 MB in the host. */
export declare const MAX_LINE_BYTES: number;
/**
 * Written by the runner to its own stdout and stderr after an attempt, before reporting the end: the host holds the
 * end back until it has read this marker on both streams, so console output printed just before `return` is
 * attributed to the right attempt (thread stdout and the message port are separate channels with no ordering).
 */
export declare const END_MARKER = "\0vigil:attempt-end\0\n";
/**
 * Splits a byte stream into lines, bounded in memory: a line longer than MAX_LINE_BYTES is emitted cut, and the
 * rest of it (up to its newline) is dropped.
 */
export declare class LineSplitter {
    private readonly emit;
    private readonly onMarker?;
    private readonly decoder;
    private buffer;
    private dropping;
    constructor(emit: (line: string) => void, onMarker?: (() => void) | undefined);
    write(chunk: Buffer | string): void;
    /** Emits a pending partial line (the stream ended or the attempt is over). */
    flush(): void;
    private append;
    private line;
    private emitLine;
}
