/**
 * Concurrency slots of one worker. Parents that wait for children give their slot back and take one again
 * through `acquire({ resume: true })`, which is served before new work is claimed — so a pool of any size ≥ 1
 * always has a slot for the children a parent waits on (DESIGN G6).
 */
export class Slots {
    capacity;
    used = 0;
    resumers = [];
    listeners = new Set();
    constructor(capacity) {
        this.capacity = capacity;
    }
    /** Slots the claim loop may fill now (resuming parents come first). */
    get free() {
        return Math.max(0, this.capacity - this.used - this.resumers.length);
    }
    get inUse() {
        return this.used;
    }
    /** Takes a slot for newly claimed work; the caller checked `free`. */
    take() {
        this.used++;
    }
    /** A parent resuming after its children: waits for a slot, ahead of new work. */
    resume() {
        if (this.used < this.capacity && this.resumers.length === 0) {
            this.used++;
            return Promise.resolve();
        }
        return new Promise((resolve) => this.resumers.push(resolve));
    }
    release() {
        this.used--;
        const next = this.resumers.shift();
        if (next) {
            this.used++;
            next();
        }
        for (const listener of this.listeners)
            listener();
    }
    onRelease(listener) {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }
}
//# sourceMappingURL=slots.js.map