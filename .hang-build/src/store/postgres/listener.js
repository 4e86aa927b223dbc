import pg from 'pg';
/**
 * The dedicated LISTEN connection. It is never in the pool (a pooled client would be handed out mid-LISTEN), and
 * it reconnects by itself with capped, jittered backoff, so a database restart costs idle workers a delay, never
 * their wake-ups.
 */
export class Listener {
    opts;
    client = null;
    closed = false;
    connecting = null;
    retryTimer = null;
    pollTimer = null;
    everConnected = false;
    /** Connections made so far: tests and `doctor` read it to see that reconnection happened. */
    connections = 0;
    constructor(opts) {
        this.opts = opts;
    }
    get connected() {
        return this.client !== null;
    }
    /** Resolves once the first connection is listening, or after its first failure (it keeps retrying then). */
    start() {
        if (!this.connecting && !this.client && !this.closed)
            this.connecting = this.connect(this.opts.minBackoffMs ?? 100);
        if (!this.pollTimer && !this.closed) {
            this.pollTimer = setInterval(() => void this.recheck(false), this.opts.pollMs);
            this.pollTimer.unref();
        }
        return this.connecting ?? Promise.resolve();
    }
    async close() {
        this.closed = true;
        if (this.retryTimer)
            clearTimeout(this.retryTimer);
        if (this.pollTimer)
            clearInterval(this.pollTimer);
        const client = this.client;
        this.client = null;
        if (client)
            await client.end().catch(() => undefined);
    }
    async connect(backoffMs) {
        const client = new pg.Client(this.opts.clientConfig);
        client.on('error', () => this.lost(client));
        client.on('end', () => this.lost(client));
        client.on('notification', (msg) => {
            if (msg.channel === this.opts.channel && msg.payload)
                this.dispatch(msg.payload);
        });
        try {
            await client.connect();
            await client.query(`LISTEN "${this.opts.channel}"`);
        }
        catch {
            client.removeAllListeners('end');
            client.on('error', () => undefined);
            await client.end().catch(() => undefined);
            this.connecting = null;
            this.scheduleReconnect(backoffMs);
            return;
        }
        if (this.closed) {
            await client.end().catch(() => undefined);
            return;
        }
        this.client = client;
        this.connecting = null;
        this.connections++;
        if (this.everConnected)
            void this.recheck(true);
        this.everConnected = true;
    }
    lost(client) {
        if (this.client !== client)
            return;
        this.client = null;
        client.end().catch(() => undefined);
        if (!this.closed)
            this.scheduleReconnect(this.opts.minBackoffMs ?? 100);
    }
    scheduleReconnect(backoffMs) {
        if (this.closed || this.retryTimer)
            return;
        const max = this.opts.maxBackoffMs ?? 5_000;
        const wait = Math.round(backoffMs * (0.5 + Math.random() * 0.5));
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.connecting = this.connect(Math.min(max, backoffMs * 2));
        }, wait);
        this.retryTimer.unref();
    }
    /** The synthetic wake-up: an `enqueued` for every task with runnable work. */
    async recheck(always) {
        let tasks;
        try {
            tasks = await this.opts.runnableTasks();
        }
        catch {
            return;
        }
        if (!this.closed && (always || tasks.length > 0))
            this.opts.onEvent({ type: 'enqueued', tasks });
    }
    dispatch(payload) {
        let msg;
        try {
            msg = JSON.parse(payload);
        }
        catch {
            return;
        }
        if (msg.t === 'e') {
            if (Array.isArray(msg.k))
                this.opts.onEvent({ type: 'enqueued', tasks: msg.k });
            else
                void this.recheck(true);
        }
        else if (msg.t === 'f' && typeof msg.i === 'string') {
            this.opts.onEvent({
                type: 'finished',
                jobId: msg.i,
                parentId: msg.p ?? null,
                state: msg.s,
            });
        }
        else if (msg.t === 'c' && Array.isArray(msg.i)) {
            this.opts.onEvent({ type: 'cancelRequested', jobIds: msg.i });
        }
    }
}
//# sourceMappingURL=listener.js.map