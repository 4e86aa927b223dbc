import pg from 'pg';
import type { StoreEvent } from '../contract.js';
export interface ListenerOptions {
    /** A fresh client config for every (re)connection. */
    clientConfig: pg.ClientConfig;
    channel: string;
    onEvent: (event: StoreEvent) => void;
    /**
     * Asked after a reconnection and on every slow poll: which tasks have runnable jobs. Notifications sent while
     * the LISTEN connection was down are gone, so waiters are told to look again.
     */
    runnableTasks: () => Promise<string[]>;
    /** Slow poll, the safety net for notifications lost any other way. */
    pollMs: number;
    minBackoffMs?: number;
    maxBackoffMs?: number;
}
/**
 * The dedicated LISTEN connection. It is never in the pool (a pooled client would be handed out mid-LISTEN), and
 * it reconnects by itself with capped, jittered backoff, so a database restart costs idle workers a delay, never
 * their wake-ups.
 */
export declare class Listener {
    private readonly opts;
    private client;
    private closed;
    private connecting;
    private retryTimer;
    private pollTimer;
    private everConnected;
    /** Connections made so far: tests and `doctor` read it to see that reconnection happened. */
    connections: number;
    constructor(opts: ListenerOptions);
    get connected(): boolean;
    /** Resolves once the first connection is listening, or after its first failure (it keeps retrying then). */
    start(): Promise<void>;
    close(): Promise<void>;
    private connect;
    private lost;
    private scheduleReconnect;
    /** The synthetic wake-up: an `enqueued` for every task with runnable work. */
    private recheck;
    private dispatch;
}
