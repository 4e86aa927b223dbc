import { readdirSync, readFileSync } from 'node:fs';
import { platform } from 'node:process';
const HAS_PROC = platform === 'linux';
let pageKb = null;
/** The page size in KiB (4 on most machines, 16 or 64 on some ARM kernels). */
function pageSizeKb() {
    if (pageKb !== null)
        return pageKb;
    pageKb = 4;
    try {
        const match = /KernelPageSize:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))
            ?? /KernelPageSize:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/smaps', 'utf8'));
        if (match)
            pageKb = Number(match[1]);
    }
    catch {
        // Keep 4.
    }
    return pageKb;
}
/** /proc/<pid>/stat parsed, or null when the process is gone (or this is not Linux). */
export function readProcStat(pid) {
    if (!HAS_PROC)
        return null;
    let text;
    try {
        text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    }
    catch {
        return null;
    }
    return parseStat(text);
}
export function parseStat(text) {
    // comm may contain spaces and parentheses: it ends at the LAST ')'.
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    if (open < 0 || close < open)
        return null;
    const rest = text.slice(close + 2).split(' ');
    const pid = Number(text.slice(0, open).trim());
    const ppid = Number(rest[1]);
    const pgid = Number(rest[2]);
    const sid = Number(rest[3]);
    const startTime = Number(rest[19]);
    const rssPages = Number(rest[21]);
    if (!Number.isFinite(pid) || !Number.isFinite(ppid) || !Number.isFinite(startTime))
        return null;
    const stat = { pid, ppid, pgid, sid, state: rest[0] ?? '?', comm: text.slice(open + 1, close), startTime };
    if (Number.isFinite(rssPages))
        stat.rssKb = rssPages * pageSizeKb();
    return stat;
}
function isDead(stat) {
    // A zombie has exited: it holds no memory and no signal reaches it; its parent only has to reap it.
    return stat.state === 'Z' || stat.state === 'X' || stat.state === 'x';
}
function allStats() {
    let entries;
    try {
        entries = readdirSync('/proc');
    }
    catch {
        return [];
    }
    const out = [];
    for (const entry of entries) {
        const c = entry.charCodeAt(0);
        if (c < 48 || c > 57)
            continue;
        const stat = readProcStat(Number(entry));
        if (stat)
            out.push(stat);
    }
    return out;
}
export class TreeTracker {
    rootPid;
    /** The root's process group: the root leads it when spawned with `detached: true`. */
    pgid;
    rootStart;
    /** pid → start time of every live process seen in the tree. */
    known = new Map();
    last = [];
    constructor(rootPid) {
        if (!Number.isInteger(rootPid) || rootPid <= 0)
            throw new RangeError(`TreeTracker needs a positive pid (got ${rootPid})`);
        this.rootPid = rootPid;
        const stat = readProcStat(rootPid);
        this.pgid = stat ? stat.pgid : rootPid;
        this.rootStart = stat ? stat.startTime : null;
        if (stat)
            this.known.set(rootPid, stat.startTime);
    }
    /** The live pids of the tree (zombies excluded), root first. Scans /proc: a few ms for a few hundred processes. */
    sample() {
        return this.sampleStats().map((s) => s.pid);
    }
    /** The tree's resident memory in KiB, summed over its processes (pages shared between them count once each). */
    rssKb() {
        let total = 0;
        for (const stat of this.sampleStats())
            total += stat.rssKb ?? 0;
        return total;
    }
    /** The processes of the last sample (for hang reports). */
    lastSample() {
        return this.last;
    }
    /**
     * Sends `signal` to the root's process group and to every live process of the tree (each checked by start time,
     * so a recycled pid is left alone). Never throws.
     */
    killAll(signal) {
        // Sample BEFORE signalling the group: once a parent dies, its setsid() children are reparented to init and
        // only a sample taken while the parent lived links them to the tree.
        const tree = HAS_PROC ? this.sampleStats() : [];
        let groupSignalled = false;
        // Only a group seen alive is signalled: once it is empty, its id may be reused by an unrelated group.
        if (!HAS_PROC || tree.some((s) => s.pgid === this.pgid)) {
            try {
                process.kill(-this.pgid, signal);
                groupSignalled = true;
            }
            catch {
                // The group emptied meanwhile: the members that left it are signalled one by one below.
            }
        }
        if (!HAS_PROC) {
            if (!groupSignalled)
                signalPid(this.rootPid, signal);
            return;
        }
        for (const stat of tree) {
            // Group members got it already; a second SIGTERM/SIGINT means "quit now, skip cleanup" to many programs.
            if (groupSignalled && stat.pgid === this.pgid)
                continue;
            signalPid(stat.pid, signal);
        }
    }
    sampleStats() {
        if (!HAS_PROC) {
            const alive = isAlive(this.rootPid);
            this.last = alive ? [{ pid: this.rootPid, ppid: 0, pgid: this.pgid, sid: 0, state: '?', comm: '?', startTime: 0 }] : [];
            return this.last;
        }
        const stats = allStats();
        const byPid = new Map();
        const children = new Map();
        for (const stat of stats) {
            byPid.set(stat.pid, stat);
            const list = children.get(stat.ppid);
            if (list)
                list.push(stat);
            else
                children.set(stat.ppid, [stat]);
        }
        const seeds = [];
        for (const [pid, start] of this.known) {
            const stat = byPid.get(pid);
            if (stat && stat.startTime === start)
                seeds.push(stat);
        }
        for (const stat of stats) {
            // A group member started before the root can not be ours: the pgid was recycled from an older group.
            if (stat.pgid === this.pgid && (this.rootStart === null || stat.startTime >= this.rootStart))
                seeds.push(stat);
        }
        const tree = [];
        const seen = new Set();
        const queue = seeds;
        for (let i = 0; i < queue.length; i++) {
            const stat = queue[i];
            if (seen.has(stat.pid))
                continue;
            seen.add(stat.pid);
            tree.push(stat);
            for (const child of children.get(stat.pid) ?? [])
                if (!seen.has(child.pid))
                    queue.push(child);
        }
        // Remember the living; forget the dead so the map stays the size of the live tree.
        this.known.clear();
        const live = tree.filter((s) => !isDead(s));
        for (const stat of live)
            this.known.set(stat.pid, stat.startTime);
        live.sort((a, b) => (a.pid === this.rootPid ? -1 : b.pid === this.rootPid ? 1 : a.startTime - b.startTime || a.pid - b.pid));
        this.last = live;
        return live;
    }
}
function signalPid(pid, signal) {
    try {
        process.kill(pid, signal);
    }
    catch {
        // Exited in the meantime.
    }
}
function isAlive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    }
    catch (err) {
        return err.code === 'EPERM';
    }
}
const POLL_MS = 25;
/** After SIGKILL, how long to wait for the tree to be gone. SIGKILL is not deferrable, except by a process stuck in
 * uninterruptible I/O (state D), which dies when the I/O returns. */
const KILL_BOUND_MS = 1_000;
/**
 * Ends the whole tree: SIGTERM (and SIGCONT, so a stopped process can act on it) to everything, up to `graceMs` for
 * it to exit, then SIGKILL until nothing is left, bounded by ~1 s. Resolves when the tree is gone or the bound
 * passed; never throws.
 */
export async function killTree(tracker, graceMs) {
    if (graceMs > 0) {
        tracker.killAll('SIGTERM');
        tracker.killAll('SIGCONT');
        if (await waitGone(tracker, graceMs))
            return;
    }
    await killNow(tracker);
}
/** SIGKILL to the tree, repeated while new members appear (a fork racing the kill), until gone or ~1 s. */
export async function killNow(tracker, boundMs = KILL_BOUND_MS) {
    const until = Date.now() + boundMs;
    for (;;) {
        tracker.killAll('SIGKILL');
        if (tracker.sample().length === 0)
            return true;
        if (Date.now() >= until)
            return false;
        await delay(POLL_MS);
    }
}
/** Polls /proc until the tree is gone; false when `ms` passed first. */
export async function waitGone(tracker, ms) {
    const until = Date.now() + ms;
    for (;;) {
        if (tracker.sample().length === 0)
            return true;
        const left = until - Date.now();
        if (left <= 0)
            return false;
        await delay(Math.min(POLL_MS, left));
    }
}
function delay(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
//# sourceMappingURL=proctree.js.map