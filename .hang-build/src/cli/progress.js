import cliProgress from 'cli-progress';
const POLL_MS = 200;
// A MultiBar (with one bar) because it can print log lines above the bar without tearing it.
let active = null;
/** One line to stderr; above the progress bar when one is shown. Everything the CLI logs goes through here. */
export function stderrLine(text) {
    if (active)
        active.log(`${text}\n`);
    else
        process.stderr.write(`${text}\n`);
}
/**
 * Shows a progress bar for a job while `work` is pending, fed by polling `job.progress` (the store is the one place
 * progress is visible from any process). Only when stdout is a terminal: piped output stays clean data. The bar
 * goes to stderr and is cleared before the caller prints the result.
 */
export async function withProgressBar(vigil, jobId, work, enabled = process.stdout.isTTY === true) {
    if (!enabled || process.stderr.isTTY !== true)
        return work;
    const multi = new cliProgress.MultiBar({
        format: ' {bar} {percentage}% | {state} {message}',
        hideCursor: true,
        clearOnComplete: true,
        stream: process.stderr,
        // Signals are the commands' business (run cancels the job on SIGINT); the bar is stopped in `finally`.
        gracefulExit: false,
    }, cliProgress.Presets.shades_classic);
    const bar = multi.create(100, 0, { state: 'queued', message: '' });
    active = multi;
    let stopped = false;
    const poll = async () => {
        while (!stopped) {
            try {
                const job = await vigil.get(jobId);
                const p = job.progress;
                const pct = p?.fraction != null ? p.fraction * 100 : p?.done !== undefined && p.total ? (p.done / p.total) * 100 : undefined;
                const count = p?.done !== undefined && p.total !== undefined ? `${p.done}/${p.total} ` : '';
                const payload = { state: job.state, message: `${count}${p?.message ?? ''}` };
                if (pct === undefined)
                    bar.update(payload);
                else
                    bar.update(Math.max(0, Math.min(100, pct)), payload);
            }
            catch {
                // A poll that fails only leaves the bar stale; the wait itself reports real errors.
            }
            await new Promise((r) => setTimeout(r, POLL_MS));
        }
    };
    const polling = poll();
    try {
        return await work;
    }
    finally {
        stopped = true;
        await polling;
        active = null;
        multi.stop();
    }
}
//# sourceMappingURL=progress.js.map