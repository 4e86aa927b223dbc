/**
 * The process tree of a program, as seen in /proc, so that ending it ends ALL of it (DESIGN G1). Killing only the
 * direct child leaves its pool workers running; killing only its process group misses descendants that called
 * setsid() (daemons, some pool implementations). So the tracker unions, on every sample:
 * - the root and every descendant by parent pid,
 * - every member of the root's process group,
 * - every pid seen in the tree before that is still alive with the same start time — a descendant that setsid()s
 *   and whose parent exits is reparented to init and no longer a descendant, but it is remembered here,
 * - and the descendants of all of these.
 * Pids are identified by (pid, start time) so that a recycled pid is never signalled.
 *
 * What this can not do without cgroups (see docs/command-tasks.md): a process that double-forks and setsid()s
 * entirely between two samples is never seen; a process that enters another pid namespace is only seen by its
 * outer pid while its ancestor link is intact. Only a cgroup (or a pid namespace owned by Vigil) contains a tree
 * with no gap.
 *
 * Elsewhere than Linux (no /proc), the tracker degrades to the root and its process group: sample() returns the
 * root while it lives, rssKb() is 0 (memoryMb is not enforced there) and killAll signals the group and the root.
 */
export interface ProcStat {
    pid: number;
    ppid: number;
    pgid: number;
    sid: number;
    state: string;
    comm: string;
    /** Clock ticks after boot at which the process started: with the pid, its identity. */
    startTime: number;
    rssKb?: number;
}
/** /proc/<pid>/stat parsed, or null when the process is gone (or this is not Linux). */
export declare function readProcStat(pid: number): ProcStat | null;
export declare function parseStat(text: string): ProcStat | null;
export declare class TreeTracker {
    readonly rootPid: number;
    /** The root's process group: the root leads it when spawned with `detached: true`. */
    readonly pgid: number;
    private readonly rootStart;
    /** pid → start time of every live process seen in the tree. */
    private readonly known;
    private last;
    constructor(rootPid: number);
    /** The live pids of the tree (zombies excluded), root first. Scans /proc: a few ms for a few hundred processes. */
    sample(): number[];
    /** The tree's resident memory in KiB, summed over its processes (pages shared between them count once each). */
    rssKb(): number;
    /** The processes of the last sample (for hang reports). */
    lastSample(): ProcStat[];
    /**
     * Sends `signal` to the root's process group and to every live process of the tree (each checked by start time,
     * so a recycled pid is left alone). Never throws.
     */
    killAll(signal: NodeJS.Signals): void;
    private sampleStats;
}
/**
 * Ends the whole tree: SIGTERM (and SIGCONT, so a stopped process can act on it) to everything, up to `graceMs` for
 * it to exit, then SIGKILL until nothing is left, bounded by ~1 s. Resolves when the tree is gone or the bound
 * passed; never throws.
 */
export declare function killTree(tracker: TreeTracker, graceMs: number): Promise<void>;
/** SIGKILL to the tree, repeated while new members appear (a fork racing the kill), until gone or ~1 s. */
export declare function killNow(tracker: TreeTracker, boundMs?: number): Promise<boolean>;
/** Polls /proc until the tree is gone; false when `ms` passed first. */
export declare function waitGone(tracker: TreeTracker, ms: number): Promise<boolean>;
