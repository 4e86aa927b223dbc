import cliProgress from 'cli-progress';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { formatDuration } from '../task/duration.js';
import type { StackFrame } from '../types.js';
import type { DemoEvent, TrackProgress } from './monitor.js';
import { packageRoot } from './paths.js';

/**
 * What the demo shows while it runs: one bar per track on a terminal (stderr), and one line per notable event
 * either way. Without a terminal (CI, a pipe) only the lines are written: logs stay readable.
 */
export class LiveView {
  private readonly multi: cliProgress.MultiBar | null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly started = Date.now();

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, tty = out.isTTY === true) {
    this.multi = tty
      ? new cliProgress.MultiBar(
          {
            format: ' {track} {bar} {value}/{total} windows {status}',
            hideCursor: true,
            clearOnComplete: false,
            stream: out,
            gracefulExit: false,
            barsize: 24,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  }

  line(text: string): void {
    const stamped = `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(5)}s] ${text}`;
    if (this.multi) this.multi.log(`${stamped}\n`);
    else this.out.write(`${stamped}\n`);
  }

  update(tracks: TrackProgress[]): void {
    if (!this.multi) return;
    const width = Math.max(...tracks.map((t) => t.name.length));
    for (const t of tracks) {
      const done = t.succeeded + t.failed;
      const status = [
        t.parent ? t.parent.state : '',
        t.running ? `${t.running} running` : '',
        t.failed ? `${t.failed} failed` : '',
      ].filter(Boolean).join(' · ');
      let bar = this.bars.get(t.name);
      if (!bar) {
        bar = this.multi.create(t.windows, done, { track: t.name.padEnd(width), status });
        this.bars.set(t.name, bar);
      }
      bar.setTotal(t.windows);
      bar.update(done, { track: t.name.padEnd(width), status });
    }
  }

  event(e: DemoEvent): void {
    const where = (track: string, window: number | null, jobId: string): string => `${track}${window === null ? ' (track job' : ` window ${window} (job`} ${jobId})`;
    switch (e.type) {
      case 'attempt-failed': {
        const a = e.attempt;
        const took = a.finishedAt === null ? '' : ` after ${formatDuration(a.finishedAt - a.startedAt)}`;
        const then = e.retrying ? 'retrying' : 'not retried: failed for good';
        if (a.outcome === 'timeout' || a.outcome === 'stalled') {
          this.line(`${where(e.track, e.window, e.jobId)}: attempt ${a.attempt} ${a.outcome}${took}; hang report: ${frameText(e.hang)}; killed, ${then}`);
        } else if (a.outcome === 'crashed') {
          this.line(`${where(e.track, e.window, e.jobId)}: attempt ${a.attempt} crashed (${a.error?.message ?? 'its worker died'}); ${e.retrying ? 're-queued' : then}`);
        } else {
          this.line(`${where(e.track, e.window, e.jobId)}: attempt ${a.attempt} ${a.outcome}: ${a.error?.message ?? '?'}; ${then}`);
        }
        break;
      }
      case 'prompt-answered':
        this.line(`${where(e.track, e.window, e.jobId)}: the program that asks "Overwrite cached spectrum? [y/N]" read end-of-file and finished in ${e.ms} ms ("${e.lastLine}")`);
        break;
      case 'track-done': {
        const r = e.job.result as { analysed?: number; windows?: number; missing?: unknown[] } | null;
        if (e.job.state === 'succeeded' && r) {
          this.line(`${e.track}: done: ${r.analysed}/${r.windows} windows analysed${r.missing?.length ? `, ${r.missing.length} missing (listed in the result)` : ''}`);
        } else {
          this.line(`${e.track}: ${e.job.state}${e.job.error ? `: ${e.job.error.kind}: ${e.job.error.message}` : ''}`);
        }
        break;
      }
    }
  }

  stop(): void {
    this.multi?.stop();
  }
}

/** `stuckDecoderLoop (examples/highlights/tasks.ts:83)`: paths relative to the package, for reading. */
export function frameText(frame: StackFrame | null): string {
  if (!frame) return 'no JS stack captured';
  return `${frame.functionName || '(anonymous)'} (${shortFile(frame.file)}:${frame.line})`;
}

export function shortFile(file: string): string {
  let path = file;
  try {
    if (file.startsWith('file:')) path = fileURLToPath(file);
  } catch {
    return file;
  }
  try {
    const rel = relative(packageRoot(), path);
    return rel.startsWith('..') ? path : rel;
  } catch {
    return path;
  }
}
