import type { DemoSummary, FaultFact, HighlightFact } from './facts.js';
import { frameText } from './live.js';

/** The summary as text: per track its highlights and missing windows, then each fault and what Vigil did. */
export function formatSummary(s: DemoSummary): string {
  const out: string[] = ['', `Highlights (${s.tracks.length} tracks, ${s.seconds} s, store ${s.store})`];
  for (const t of s.tracks) {
    out.push('', `  ${t.name} (job ${t.jobId}, ${t.state}${t.attempts > 1 ? `, ${t.attempts} attempts` : ''}): ${t.analysed ?? 0}/${t.windows} windows analysed`);
    if (t.error) out.push(`    error: ${t.error}`);
    if (t.loudest.length) out.push(`    loudest:   ${t.loudest.map(highlight).join('   ')}`);
    if (t.brightest.length) out.push(`    brightest: ${t.brightest.map(highlight).join('   ')}`);
    for (const m of t.missing) out.push(`    MISSING window ${m.window} ${span(m.startSec, m.endSec)} (job ${m.jobId}): ${m.kind}: ${m.reason}`);
  }
  if (s.faultsInjected) {
    out.push('', 'Faults injected, and what Vigil did');
    for (const f of s.faults) out.push(...faultLines(f));
    if (s.crash) {
      const c = s.crash;
      if (!c.injected) out.push(`  - worker crash: not injected (${c.note})`);
      else {
        const parents = c.crashedAttempts.filter((a) => a.task === 'highlights.track').length;
        out.push(
          `  - worker crash: pid ${c.workerPid} SIGKILLed at ${c.atSec} s with ${c.inFlight.length} job(s) running; a new worker (pid ${c.replacementPid}) took over.`,
          `    ${c.crashedAttempts.length} attempt(s) ended "crashed" when their lease expired (${c.crashedAttempts.length - parents} window(s), ${parents} track job(s)) and were re-run: ${c.crashedAttempts.map((a) => `${a.jobId}→${a.finalState}`).join(', ') || 'none'}`,
          `    ${c.doneBefore.length} window(s) had finished before the kill; the re-run track jobs got them back from the store (${c.rerunAfterDone ?? 0} ran again).`,
        );
      }
    }
  } else {
    out.push('', 'Faults: off (--no-faults)');
  }
  const j = s.jobs;
  out.push('', `Jobs: ${j.found} of ${j.expected} accounted for: ${j.succeeded} succeeded, ${j.failed} failed, ${j.cancelled} cancelled, ${j.notTerminal} not finished.`);
  out.push('', 'Checks against the store');
  for (const c of s.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  out.push('', s.ok ? 'Demo OK: every fault was handled as designed.' : 'Demo FAILED: see the checks above.');
  return out.join('\n');
}

function span(a: number, b: number): string {
  return `${a.toFixed(1)}-${b.toFixed(1)} s`;
}

function highlight(h: HighlightFact): string {
  return `${span(h.startSec, h.endSec)} ${h.rmsDb} dB ${h.centroidHz} Hz`;
}

function faultLines(f: FaultFact): string[] {
  const where = `${f.track} window ${f.window} (job ${f.jobId ?? '?'})`;
  const attempts = f.attempts.map((a) => `#${a.attempt} ${a.outcome ?? 'running'}${a.ms === null ? '' : ` ${(a.ms / 1000).toFixed(1)} s`}`).join(', ');
  switch (f.fault) {
    case 'spin':
      return [
        `  - spinning forever: ${where}: attempt 1 timed out; the hang report says it was in ${f.hang ? frameText({ ...f.hang, column: 0 }) : '(no stack captured)'};`,
        `    the thread was killed and the window retried → ${f.state} (attempts: ${attempts})`,
      ];
    case 'prompt':
      return [
        `  - program asking on stdin: ${where}: stdin was closed, so it read end-of-file at once and went on (${f.program ? `${f.program.ms} ms, exit ${f.program.exitCode}` : 'no output recorded'}) → ${f.state}`,
        ...(f.program ? [`    it printed: ${JSON.stringify(f.program.stdout)}`] : []),
      ];
    case 'corrupt':
      return [
        `  - corrupt window: ${where}: ${f.error ? `${f.error.kind}: ${f.error.message}` : 'no error recorded'}`,
        `    not retryable: ${f.attempts.length === 1 ? '1 attempt' : `${f.attempts.length} attempts, one per run of its track job (a re-run parent gives failed children another try)`} → ${f.state};`,
        `    the allSettled policy handed it to the track, whose result ${f.listedAsMissing ? 'lists it as MISSING with the reason' : 'does NOT list it'}`,
      ];
  }
}
