import { ago, time, type JobState, type WhyAnswer } from '../api.js';
import { useLive, useNow } from '../hooks.js';
import { ErrorText } from './common.js';

/** Deeper levels of a job tree start folded: a wide tree would otherwise push the rest of the page away. */
const OPEN_DEPTH = 2;
const POLL_MS = 3000;

function JobLink({ id }: { id: string }) {
  return (
    <a class="mono" href={`#/jobs/${id}`}>
      {id}
    </a>
  );
}

function Until({ until, now }: { until: number; now: number }) {
  const left = until - now;
  return (
    <span class="muted" data-why-until title={new Date(until).toLocaleString()}>
      {' '}
      ({left > 0 ? `in ${ago(left)}` : `${ago(-left)} ago`}, at {time(until)})
    </span>
  );
}

function WhyNode({ answer, depth, deadEndId, now }: { answer: WhyAnswer; depth: number; deadEndId: string | null; now: number }) {
  const deadEnd = answer.jobId === deadEndId;
  return (
    <div class={`why-node${deadEnd ? ' why-dead-end' : ''}`} data-why-job={answer.jobId} data-why-code={answer.code}>
      <p>
        {depth > 0 ? (
          <>
            <JobLink id={answer.jobId} /> <span class="task">{answer.task}</span>:{' '}
          </>
        ) : null}
        <span class="why-summary">{answer.summary}</span>
        {answer.until !== undefined ? <Until until={answer.until} now={now} /> : null}
      </p>
      {answer.jobs && answer.jobs.length > 0 ? (
        <p class="why-jobs">
          Jobs:{' '}
          {answer.jobs.map((id, i) => (
            <>
              {i > 0 ? ', ' : ''}
              <JobLink id={id} />
            </>
          ))}
        </p>
      ) : null}
      {answer.children ? (
        <details class="why-children" open={depth < OPEN_DEPTH}>
          <summary>
            {answer.children.done} of {answer.children.total} children done
            {answer.children.waiting.length ? `; ${answer.children.waiting.length} shown below` : ''}
          </summary>
          {answer.children.waiting.map((c) => (
            <WhyNode answer={c} depth={depth + 1} deadEndId={deadEndId} now={now} />
          ))}
        </details>
      ) : null}
    </div>
  );
}

/**
 * "Why is this job not running / not finished?" for a queued or running job (GET /api/jobs/:id/why). Polled, not
 * pushed: most causes (a worker appearing, a backoff ending) change without an event for this job. Job text is
 * rendered as text only (Preact escapes it); no inline styles (the CSP forbids them).
 */
export function WhyPanel({ id, state }: { id: string; state: JobState }) {
  const [answer, error] = useLive<WhyAnswer>(`/api/jobs/${id}/why`, null, POLL_MS);
  const now = useNow();
  return (
    <section class="why" data-why>
      <h3>Why is it not {state === 'queued' ? 'running' : 'finished'}?</h3>
      <ErrorText message={error} />
      {answer ? (
        <>
          {answer.deadEnd ? (
            <p class="why-dead-end" data-why-dead-end={answer.deadEnd.jobId}>
              <b>Dead end</b> at <JobLink id={answer.deadEnd.jobId} />: {answer.deadEnd.summary}
            </p>
          ) : null}
          <WhyNode answer={answer} depth={0} deadEndId={answer.deadEnd?.jobId ?? null} now={now} />
        </>
      ) : error ? null : (
        <p class="muted">Asking…</p>
      )}
    </section>
  );
}
