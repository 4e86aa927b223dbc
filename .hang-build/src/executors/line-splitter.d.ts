/**
 * Bounded handling of a program's output bytes. A program may print gigabytes, a line of a gigabyte without a
 * newline, or binary garbage; none of it may grow the worker's memory or break the log (a NUL byte is not even
 * storable in a PostgreSQL text column). So:
 * - LineSplitter holds at most one line's worth (maxLineBytes) of pending bytes; the rest of an over-long line is
 *   only counted, and the line is emitted cut with a `…[cut N bytes]` marker.
 * - `\n`, `\r\n` and a lone `\r` (progress bars redraw with it) all end a line.
 * - lineText() decodes UTF-8 (invalid sequences become U+FFFD) and escapes control characters as `\xNN`.
 * - ByteTail keeps the last N bytes of a stream for error messages and results, copying at most N bytes per chunk.
 * - LogBudget decides how many lines reach the job's log at all.
 */
export declare const MAX_LINE_BYTES: number;
/**
 * Receives one line. `bytes` is only valid during the call (it may be a view of a reused buffer): decode or copy
 * it before returning. `cutBytes` > 0 when the line was longer than the limit and that many bytes were dropped.
 */
export type LineHandler = (bytes: Buffer, cutBytes: number) => void;
export declare class LineSplitter {
    private readonly onLine;
    private readonly maxLineBytes;
    private readonly pending;
    private pendingLength;
    private cut;
    /** The previous chunk ended with `\r`: a `\n` starting the next chunk belongs to it. */
    private afterCr;
    constructor(onLine: LineHandler, maxLineBytes?: number);
    write(chunk: Buffer): void;
    /** True when bytes of an unfinished line are held. */
    get hasPartial(): boolean;
    /**
     * Emits the unfinished line now (the stream ended, or it has been quiet: a prompt like `Password: ` waiting on
     * stdin should be visible in the log and hang report). Whatever follows starts a new line.
     */
    flush(): void;
    /** The stream ended. */
    end(): void;
    private lineEnd;
    private emit;
    private append;
}
/** The text stored for a line: valid UTF-8, control characters escaped, the cut marker appended. */
export declare function lineText(bytes: Buffer, cutBytes: number): string;
/** A LineHandler that decodes every line into text. */
export declare function textLines(emit: (line: string) => void): LineHandler;
/** The last `capacity` bytes written, in a fixed buffer. */
export declare class ByteTail {
    readonly capacity: number;
    private readonly ring;
    private start;
    private length;
    /** Bytes written in total. */
    total: number;
    constructor(capacity: number);
    write(chunk: Buffer): void;
    /** The kept bytes, oldest first. */
    bytes(): Buffer;
    /** True when older bytes were dropped. */
    get truncated(): boolean;
    /** The kept bytes as text (a character split by the cut at the start becomes U+FFFD). */
    text(): string;
    /**
     * The last `count` non-empty lines, each shortened to `maxChars`, control characters escaped: for error
     * messages ("exit code 3; last lines of stderr: …").
     */
    lastLines(count: number, maxChars?: number): string[];
}
/** Lines of each stream logged at the end when the output's last lines were over the budget. */
export declare const TRAILING_LINES = 50;
export interface LogBudgetOptions {
    /** Bytes logged at full speed first (default 2 MiB). */
    burstBytes?: number;
    /** Then, on average, this many bytes per second (default 16 KiB/s). */
    bytesPerSecond?: number;
}
/**
 * How much output reaches the job's log: a program printing a gigabyte must neither flood the store nor cost the
 * worker. A token bucket (each line costs its bytes + 64): once empty, lines are counted and skipped until a
 * quarter of the bucket has refilled, so skipping comes in long runs with one note each, not a note per line.
 */
export declare class LogBudget {
    private readonly capacity;
    private readonly rate;
    private tokens;
    private refilledAt;
    private skipping;
    private skippedLines;
    private skippedBytes;
    private totalSkippedLines;
    private totalSkippedBytes;
    private readonly trailing;
    constructor(options?: LogBudgetOptions);
    /** `kept`: the bytes that would be stored (a cut line keeps 8 KiB); `total`: the line's real length. */
    admit(stream: 'stdout' | 'stderr', kept: number, total?: number): boolean;
    /** The note for lines skipped since the last logged line, once. */
    takeSkipNote(): string | null;
    /** At the end: a note when the output's last lines were skipped, and how many of each stream. */
    summary(): {
        note: string;
        trailing: Record<'stdout' | 'stderr', number>;
    } | null;
    private refill;
}
