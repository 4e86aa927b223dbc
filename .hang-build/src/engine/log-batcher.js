/**
 * Heartbeats, progress and log lines go to the store in batches (one transaction per flush), never one write per
 * line: a task that prints a million lines costs a few hundred writes. Memory is bounded: when the store falls
 * behind, lines are dropped and a `system` line says how many.
 */
export class ActivityBatcher {
    store;
    options;
    lines = [];
    dropped = new Map();
    activity = new Map();
    timer = null;
    flushing = null;
    flushEveryMs;
    maxPendingLines;
    constructor(store, options = {}) {
        this.store = store;
        this.options = options;
        this.flushEveryMs = options.flushEveryMs ?? 100;
        this.maxPendingLines = options.maxPendingLines ?? 20_000;
    }
    log(fence, stream, line, ts) {
        if (this.lines.length >= this.maxPendingLines) {
            const key = fenceKey(fence);
            const d = this.dropped.get(key) ?? { fence, count: 0 };
            d.count++;
            this.dropped.set(key, d);
        }
        else {
            this.lines.push({ fence, stream, line, ts });
        }
        this.schedule();
    }
    heartbeat(fence, at) {
        this.update(fence).heartbeatAt = at;
        this.schedule();
    }
    progress(fence, progress) {
        this.update(fence).progress = progress;
        this.schedule();
    }
    /** Writes everything pending now; resolves when it is in the store. */
    async flush() {
        while (this.flushing)
            await this.flushing;
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = null;
        }
        if (this.lines.length === 0 && this.activity.size === 0 && this.dropped.size === 0)
            return;
        const lines = this.lines;
        this.lines = [];
        for (const { fence, count } of this.dropped.values()) {
            lines.push({ fence, stream: 'system', ts: Date.now(), line: `[vigil] ${count} log lines dropped: the store could not keep up` });
        }
        this.dropped.clear();
        const updates = [...this.activity.values()];
        this.activity.clear();
        this.flushing = (async () => {
            try {
                if (lines.length)
                    await this.store.appendLogs(lines);
                if (updates.length)
                    await this.store.recordActivity(updates);
            }
            catch (err) {
                this.options.onError?.(err);
            }
        })();
        try {
            await this.flushing;
        }
        finally {
            this.flushing = null;
        }
    }
    close() {
        return this.flush();
    }
    update(fence) {
        const key = fenceKey(fence);
        let u = this.activity.get(key);
        if (!u) {
            u = { fence };
            this.activity.set(key, u);
        }
        return u;
    }
    schedule() {
        if (this.timer)
            return;
        const soon = this.lines.length >= 1_000 ? 0 : this.flushEveryMs;
        this.timer = setTimeout(() => {
            this.timer = null;
            void this.flush();
        }, soon);
        this.timer.unref();
    }
}
export function fenceKey(fence) {
    return `${fence.jobId}:${fence.attempt}`;
}
//# sourceMappingURL=log-batcher.js.map