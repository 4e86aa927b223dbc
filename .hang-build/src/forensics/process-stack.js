import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processTree, snapshotProcessesWithNotes } from './proc-snapshot.js';
/**
 * Where a Node child that runs a task on its main thread (isolation 'process') is stuck: a diagnostic report asked
 * for with a signal (JS stack + libuv handles), plus the /proc facts of its whole tree, which are always collected.
 *
 * Measured on Node 20 (5 captures each, budget 500 ms): an idle child answers in ~12 ms with its pending handles;
 * a child in a busy loop or blocked in a system call never writes the report (report-on-signal is served by the
 * event loop, not by a V8 interrupt), so for those only the /proc facts are recorded (state R "running", or the
 * blocking system call) and the capture uses its whole budget. The JS stack of a busy process child needs the
 * inspector (a helper thread in the child with inspector.Session.connectToMainThread(), asked over a unix socket;
 * the same CDP capture as threads, see cdp-stack.ts) — not built yet.
 */
const REPORT_SIGNAL = 'SIGUSR2';
/** Where reports of this supervisor's children go (one directory per child, named by pid). */
export function reportDirectory() {
    return join(tmpdir(), `vigil-reports-${process.pid}`);
}
/** execArgv the process child needs: add to the executor's fork flags. */
export function processStackExecArgv() {
    return ['--report-on-signal', `--report-signal=${REPORT_SIGNAL}`, `--report-directory=${reportDirectory()}`, '--report-compact'];
}
export async function captureProcessStack(pid, budgetMs, options = {}) {
    const started = performance.now();
    const notes = [];
    const where = { notes };
    try {
        if (options.report !== false) {
            const report = await requestReport(pid, started + Math.max(0, budgetMs - 60));
            if (report) {
                where.stack = report.stack;
                where.pendingResources = report.resources;
                if (report.stack.length === 0)
                    notes.push('the process was idle: no JS was running; see its pending resources');
            }
            else {
                notes.push(`the JS stack could not be taken: the process did not answer within ${Math.round(performance.now() - started)} ms (its main thread is blocked in a system call or native code)`);
            }
        }
        const os = snapshotProcessesWithNotes(processTree(pid));
        where.processes = os.processes;
        notes.push(...os.notes);
    }
    catch (err) {
        notes.push(`process stack capture failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return where;
}
async function requestReport(pid, deadline) {
    const dir = reportDirectory();
    mkdirSync(dir, { recursive: true });
    const mine = (name) => name.endsWith('.json') && name.includes(`.${pid}.`);
    const before = new Set(readdirSync(dir).filter(mine));
    try {
        process.kill(pid, REPORT_SIGNAL);
    }
    catch {
        return null;
    }
    while (performance.now() < deadline) {
        for (const name of readdirSync(dir).filter(mine)) {
            if (before.has(name))
                continue;
            const file = join(dir, name);
            try {
                const parsed = parseReport(JSON.parse(readFileSync(file, 'utf8')));
                rmSync(file, { force: true });
                return parsed;
            }
            catch {
                // Still being written: try again next round.
            }
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return null;
}
function parseReport(report) {
    const stack = [];
    for (const line of report.javascriptStack?.stack ?? []) {
        // "at spin (file:///x.ts:7:3)" or "at file:///x.ts:7:3"; positions are those V8 runs (not source-mapped).
        const m = /at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line.trim());
        if (!m)
            continue;
        const file = m[2].startsWith('file://') ? decodeURIComponent(new URL(m[2]).pathname) : m[2];
        if (file.startsWith('node:'))
            continue;
        stack.push({ functionName: m[1] ?? '(anonymous)', file, line: Number(m[3]), column: Number(m[4]) });
    }
    const resources = [];
    for (const h of report.libuv ?? []) {
        if (!h.is_active || h.is_referenced === false || h.type === 'async' || h.type === 'check' || h.type === 'idle' || h.type === 'prepare')
            continue;
        const remote = h.remoteEndpoint ? ` connected to ${h.remoteEndpoint.host}:${h.remoteEndpoint.port}` : '';
        const local = h.localEndpoint ? ` on ${h.localEndpoint.host}:${h.localEndpoint.port}` : '';
        const detail = h.type === 'tcp' ? `TCP socket${remote || local}` : h.type === 'timer' ? `timer${h.timeout !== undefined ? ` (${h.timeout} ms)` : ''}` : h.type === 'process' ? `child process ${h.pid ?? '?'}` : `${h.type}${h.fd !== undefined && h.fd >= 0 ? ` fd ${h.fd}` : ''}${h.filename ? ` ${h.filename}` : ''}`;
        resources.push({ type: h.type, description: detail });
    }
    return { stack, resources };
}
//# sourceMappingURL=process-stack.js.map