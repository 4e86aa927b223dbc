import { useEffect, useRef, useState } from 'preact/hooks';
import { ago, api, stream, STATES, time, type Attempt, type JobDetail, type JobEvent, type LogLine } from '../api.js';
import { useLive } from '../hooks.js';
import { ErrorText, Json, StateBadge } from './common.js';
import { HangReportView } from './hang-report.js';
import { WhyPanel } from './why.js';

const MAX_LOG_LINES = 2000;

function Timeline({ attempts, now }: { attempts: Attempt[]; now: number }) {
  if (attempts.length === 0) return <p class="muted">Not started yet.</p>;
  const start = attempts[0]!.startedAt;
  const end = Math.max(...attempts.map((a) => a.finishedAt ?? now));
  const span = Math.max(1, end - start);
  return (
    <div class="timeline">
      {attempts.map((a) => {
        const x = ((a.startedAt - start) / span) * 100;
        const w = Math.max(0.5, (((a.finishedAt ?? now) - a.startedAt) / span) * 100);
        return (
          <div class="attempt" data-attempt={a.attempt}>
            <div class="attempt-label">
              #{a.attempt} <span class={`outcome outcome-${a.outcome ?? 'running'}`}>{a.outcome ?? 'running'}</span>
              {a.charged ? '' : <span class="muted"> (not charged)</span>}
              <span class="muted">
                {' '}
                {time(a.startedAt)} · {ago((a.finishedAt ?? now) - a.startedAt)} · {a.workerId}
              </span>
            </div>
            <svg class="attempt-bar" viewBox="0 0 100 4" preserveAspectRatio="none" aria-hidden="true">
              <rect class={`bar outcome-${a.outcome ?? 'running'}`} x={x} y={0} width={w} height={4} />
            </svg>
            {a.error ? (
              <div class="attempt-error">
                <b>{a.error.kind}</b>: {a.error.message}
              </div>
            ) : null}
            {a.hangReport ? <HangReportView report={a.hangReport} /> : null}
          </div>
        );
      })}
    </div>
  );
}

function LogTail({ jobId }: { jobId: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [ended, setEnded] = useState(false);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLines([]);
    setEnded(false);
    return stream(`/api/jobs/${jobId}/logs?follow=1`, (event, data) => {
      if (event === 'log') setLines((old) => [...old, data as LogLine].slice(-MAX_LOG_LINES));
      if (event === 'end') setEnded(true);
    });
  }, [jobId]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  return (
    <div>
      <pre class="log" ref={box} data-log>
        {lines.map((l) => (
          <div class={`log-line stream-${l.stream}`}>
            <span class="muted">{new Date(l.ts).toLocaleTimeString()} </span>
            {l.line}
          </div>
        ))}
      </pre>
      <p class="muted">{ended ? `${lines.length} line${lines.length === 1 ? "" : "s"}; the job has ended.` : "following…"}</p>
    </div>
  );
}

export function JobPage({ id }: { id: string }) {
  const [detail, error] = useLive<JobDetail>(`/api/jobs/${id}`, (e: JobEvent) => e.jobId === id || detailHasChild(e));
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const childIds = useRef(new Set<string>());
  function detailHasChild(e: JobEvent): boolean {
    return childIds.current.has(e.jobId);
  }
  if (!detail) return <div class="loading">{error ?? 'Loading…'}</div>;
  childIds.current = new Set(detail.children.jobs.map((c) => c.id));
  const j = detail.job;
  const act = async (what: 'cancel' | 'retry'): Promise<void> => {
    setBusy(true);
    setActionError(null);
    try {
      await api(`/api/jobs/${id}/${what}`, { method: 'POST' });
    } catch (err) {
      setActionError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const canCancel = j.state === 'queued' || (j.state === 'running' && !j.cancelRequested);
  const canRetry = j.state === 'failed' || j.state === 'cancelled';
  return (
    <div class="job" data-job-id={j.id}>
      <header class="job-head">
        <h2>
          Job {j.id} <span class="task">{j.task}</span> <StateBadge state={j.state} cancelRequested={j.cancelRequested} />
        </h2>
        <div class="actions">
          <button type="button" data-action="cancel" disabled={!canCancel || busy} onClick={() => void act('cancel')}>
            Cancel
          </button>
          <button type="button" data-action="retry" disabled={!canRetry || busy} onClick={() => void act('retry')}>
            Retry
          </button>
        </div>
      </header>
      <ErrorText message={actionError ?? error} />
      {/* Keyed by state: a job that starts running (or ends) asks again at once instead of at the next poll. */}
      {j.state === 'queued' || j.state === 'running' ? <WhyPanel key={j.state} id={j.id} state={j.state} /> : null}
      <dl class="facts">
        <dt>Attempts</dt>
        <dd>
          {j.attempts} of {j.maxAttempts}
        </dd>
        <dt>Created</dt>
        <dd>{new Date(j.createdAt).toLocaleString()}</dd>
        <dt>Finished</dt>
        <dd>{j.finishedAt ? new Date(j.finishedAt).toLocaleString() : '—'}</dd>
        {j.parentId ? (
          <>
            <dt>Parent</dt>
            <dd>
              <a href={`#/jobs/${j.parentId}`}>{j.parentId}</a> (key {j.childKey})
            </dd>
          </>
        ) : null}
        {j.progress ? (
          <>
            <dt>Progress</dt>
            <dd>
              {j.progress.fraction === null ? '' : `${Math.round(j.progress.fraction * 100)}% `}
              {j.progress.message ?? ''}
            </dd>
          </>
        ) : null}
      </dl>
      {j.error ? (
        <section class="job-error">
          <h3>
            Error: {j.error.kind}
          </h3>
          <p>{j.error.message}</p>
          {j.error.details ? <Json value={j.error.details} /> : null}
          {j.error.stack ? <pre class="stack-text">{j.error.stack}</pre> : null}
        </section>
      ) : null}
      <div class="two">
        <section>
          <h3>Input</h3>
          <Json value={j.input} />
        </section>
        <section>
          <h3>Result</h3>
          <Json value={j.result} />
        </section>
      </div>
      <section>
        <h3>Attempts</h3>
        <Timeline attempts={detail.attempts} now={Date.now()} />
      </section>
      <section>
        <h3>Log</h3>
        <LogTail jobId={j.id} />
      </section>
      {detail.children.jobs.length ? (
        <section>
          <h3>
            Children{' '}
            <span class="muted">
              {STATES.filter((s) => detail.children.counts[s]).map((s) => `${detail.children.counts[s]} ${s}`).join(' · ')}
            </span>
          </h3>
          <table class="children">
            <thead>
              <tr>
                <th>Id</th>
                <th>Key</th>
                <th>Task</th>
                <th>State</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {detail.children.jobs.map((c) => (
                <tr>
                  <td>
                    <a href={`#/jobs/${c.id}`}>{c.id}</a>
                  </td>
                  <td class="mono">{c.childKey}</td>
                  <td>{c.task}</td>
                  <td>
                    <StateBadge state={c.state} />
                  </td>
                  <td>{c.error ? `${c.error.kind}: ${c.error.message}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
