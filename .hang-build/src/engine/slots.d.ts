/**
 * Concurrency slots of one worker. Parents that wait for children give their slot back and take one again
 * through `acquire({ resume: true })`, which is served before new work is claimed — so a pool of any size ≥ 1
 * always has a slot for the children a parent waits on (DESIGN G6).
 */
export declare class Slots {
    readonly capacity: number;
    private used;
    private readonly resumers;
    private readonly listeners;
    constructor(capacity: number);
    /** Slots the claim loop may fill now (resuming parents come first). */
    get free(): number;
    get inUse(): number;
    /** Takes a slot for newly claimed work; the caller checked `free`. */
    take(): void;
    /** A parent resuming after its children: waits for a slot, ahead of new work. */
    resume(): Promise<void>;
    release(): void;
    onRelease(listener: () => void): () => void;
}
