import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HangReport, StackFrame } from '../types.js';
import { captureJsStack } from './cdp-stack.js';
import { connectRelay } from './inspector-relay.js';
import { processTree, snapshotProcessesWithNotes } from './proc-snapshot.js';

/**
 * Where a Node child that runs a task on its main thread (isolation 'process') is stuck: its JS stack through the
 * inspector relay of its helper thread (inspector-relay.ts) when it has one, else a diagnostic report asked for with
 * a signal; plus the /proc facts of its whole tree, which are always collected.
 *
 * Measured on Node 20: a diagnostic report is served by the event loop, not by a V8 interrupt, so a child in a busy
 * loop or a system call never writes it; an idle one answers in ~12 ms. The relay reaches a busy main thread too
 * (Debugger.pause through a V8 interrupt), so it is the route used by the process executor; a main thread blocked in
 * a system call answers neither, and the /proc facts (state, wait channel, the call) are what the report holds.
 */

const REPORT_SIGNAL = 'SIGUSR2';

/** Where reports of this supervisor's children go (one directory per child, named by pid). */
export function reportDirectory(): string {
  return join(tmpdir(), `vigil-reports-${process.pid}`);
}

/** execArgv the process child needs: add to the executor's fork flags. */
export function processStackExecArgv(): string[] {
  return ['--report-on-signal', `--report-signal=${REPORT_SIGNAL}`, `--report-directory=${reportDirectory()}`, '--report-compact'];
}

export interface ProcessStackOptions {
  /** The child was started with processStackExecArgv(): ask it for a report. Default true (ignored with a relay). */
  report?: boolean;
  /** Unix socket of the child's inspector relay (process-entry's helper thread): the JS stack is taken through it. */
  inspectorSocket?: string;
}

/** A main thread that has not answered the inspector in this long is in a system call or native code. */
const ANSWER_WITHIN_MS = 250;
/** How long a relay that is not listening yet (its helper thread still starting) is tried again. */
const RELAY_WAIT_MS = 100;

export async function captureProcessStack(pid: number, budgetMs: number, options: ProcessStackOptions = {}): Promise<HangReport['where']> {
  const started = performance.now();
  const notes: string[] = [];
  const where: HangReport['where'] = { notes };
  try {
    if (options.inspectorSocket !== undefined) {
      // The OS facts first: the inspector wakes the main thread (a futex wait becomes "running" while it answers).
      const os = snapshotProcessesWithNotes(processTree(pid));
      where.processes = os.processes;
      await inspectorStack(options.inspectorSocket, where, started, budgetMs);
      notes.push(...os.notes);
      return where;
    }
    if (options.report !== false) {
      const report = await requestReport(pid, started + Math.max(0, budgetMs - 60));
      if (report) {
        where.stack = report.stack;
        where.pendingResources = report.resources;
        if (report.stack.length === 0) notes.push('the process was idle: no JS was running; see its pending resources');
      } else {
        notes.push(
          `the JS stack could not be taken: the process did not answer within ${Math.round(performance.now() - started)} ms (its main thread is blocked in a system call or native code)`,
        );
      }
    }
    const os = snapshotProcessesWithNotes(processTree(pid));
    where.processes = os.processes;
    notes.push(...os.notes);
  } catch (err) {
    notes.push(`process stack capture failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return where;
}

async function inspectorStack(socketPath: string, where: HangReport['where'], started: number, budgetMs: number): Promise<void> {
  const deadline = started + Math.max(0, budgetMs - 10);
  const relay = await connectRelay(socketPath, Math.min(deadline, started + RELAY_WAIT_MS));
  if (!relay) {
    where.notes.push('the JS stack could not be taken: the process\'s inspector relay did not accept a connection (the process was still starting, or exiting)');
    return;
  }
  try {
    // The answer window starts once connected: a relay slow to listen must not eat the main thread's time to answer.
    const js = await captureJsStack(relay.channel, deadline, Math.min(deadline, performance.now() + Math.min(ANSWER_WITHIN_MS, budgetMs / 2)));
    if (!js.responsive) {
      where.notes.push(
        `the JS stack could not be taken: the main thread did not reach a safe point within ${Math.round(performance.now() - started)} ms (blocked in a system call or native code)`,
      );
      return;
    }
    where.stack = js.stack;
    if (js.asyncStack.length > 0) where.asyncStack = js.asyncStack;
    if (js.pendingResources) where.pendingResources = js.pendingResources;
    where.notes.push(...js.notes.map((n) => n.replace(/^the thread/, 'the process')));
  } finally {
    relay.close();
  }
}

interface ParsedReport {
  stack: StackFrame[];
  resources: Array<{ type: string; description: string }>;
}

async function requestReport(pid: number, deadline: number): Promise<ParsedReport | null> {
  const dir = reportDirectory();
  mkdirSync(dir, { recursive: true });
  const mine = (name: string): boolean => name.endsWith('.json') && name.includes(`.${pid}.`);
  const before = new Set(readdirSync(dir).filter(mine));
  try {
    process.kill(pid, REPORT_SIGNAL);
  } catch {
    return null;
  }
  while (performance.now() < deadline) {
    for (const name of readdirSync(dir).filter(mine)) {
      if (before.has(name)) continue;
      const file = join(dir, name);
      try {
        const parsed = parseReport(JSON.parse(readFileSync(file, 'utf8')) as DiagnosticReport);
        rmSync(file, { force: true });
        return parsed;
      } catch {
        // Still being written: try again next round.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return null;
}

interface DiagnosticReport {
  javascriptStack?: { message?: string; stack?: string[] };
  libuv?: Array<{ type: string; is_active?: boolean; is_referenced?: boolean; localEndpoint?: { host?: string; port?: number }; remoteEndpoint?: { host?: string; port?: number }; fd?: number; filename?: string; pid?: number; timeout?: number }>;
}

function parseReport(report: DiagnosticReport): ParsedReport {
  const stack: StackFrame[] = [];
  for (const line of report.javascriptStack?.stack ?? []) {
    // "at spin (file:///x.ts:7:3)" or "at file:///x.ts:7:3"; positions are those V8 runs (not source-mapped).
    const m = /at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!m) continue;
    const file = m[2]!.startsWith('file://') ? decodeURIComponent(new URL(m[2]!).pathname) : m[2]!;
    if (file.startsWith('node:')) continue;
    stack.push({ functionName: m[1] ?? '(anonymous)', file, line: Number(m[3]), column: Number(m[4]) });
  }
  const resources: ParsedReport['resources'] = [];
  for (const h of report.libuv ?? []) {
    if (!h.is_active || h.is_referenced === false || h.type === 'async' || h.type === 'check' || h.type === 'idle' || h.type === 'prepare') continue;
    const remote = h.remoteEndpoint ? ` connected to ${h.remoteEndpoint.host}:${h.remoteEndpoint.port}` : '';
    const local = h.localEndpoint ? ` on ${h.localEndpoint.host}:${h.localEndpoint.port}` : '';
    const detail = h.type === 'tcp' ? `TCP socket${remote || local}` : h.type === 'timer' ? `timer${h.timeout !== undefined ? ` (${h.timeout} ms)` : ''}` : h.type === 'process' ? `child process ${h.pid ?? '?'}` : `${h.type}${h.fd !== undefined && h.fd >= 0 ? ` fd ${h.fd}` : ''}${h.filename ? ` ${h.filename}` : ''}`;
    resources.push({ type: h.type, description: detail });
  }
  return { stack, resources };
}
