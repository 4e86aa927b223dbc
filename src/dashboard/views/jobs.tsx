import { useEffect, useState } from 'preact/hooks';
import { ago, api, STATES, stream, type Job, type JobState } from '../api.js';
import { ErrorText, StateBadge } from './common.js';

interface Page {
  jobs: Job[];
  nextCursor: string | null;
}

export function JobList({ query }: { query: URLSearchParams }) {
  const state = query.get('state') ?? '';
  const task = query.get('task') ?? '';
  const [jobs, setJobs] = useState<Job[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const params = new URLSearchParams();
  if (state) params.set('state', state);
  if (task) params.set('task', task);
  params.set('limit', '50');
  const path = `/api/jobs?${params.toString()}`;

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const load = async (): Promise<void> => {
      try {
        const page = await api<Page>(path);
        if (cancelled) return;
        // Live refresh replaces the first page and keeps older pages the user loaded.
        setJobs((old) => {
          const fresh = new Set(page.jobs.map((j) => j.id));
          const last = page.jobs.at(-1);
          const older = last ? old.filter((j) => !fresh.has(j.id) && Number(j.id) < Number(last.id)) : [];
          return [...page.jobs, ...older];
        });
        setCursor((c) => c ?? page.nextCursor);
        setError(null);
      } catch (err) {
        if (!cancelled) setError(err instanceof Error ? err.message : String(err));
      }
    };
    setJobs([]);
    setCursor(null);
    void load();
    const stop = stream('/api/events', (event) => {
      if (event !== 'job' || timer) return;
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, 150);
    });
    return () => {
      cancelled = true;
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [path]);

  const more = async (): Promise<void> => {
    if (!cursor) return;
    const page = await api<Page>(`${path}&cursor=${cursor}`);
    setJobs((old) => [...old, ...page.jobs.filter((j) => !old.some((o) => o.id === j.id))]);
    setCursor(page.nextCursor);
  };

  const go = (next: { state?: string; task?: string }): void => {
    const p = new URLSearchParams();
    const s = next.state ?? state;
    const t = next.task ?? task;
    if (s) p.set('state', s);
    if (t) p.set('task', t);
    location.hash = `#/jobs${p.toString() ? `?${p.toString()}` : ''}`;
  };

  return (
    <div class="jobs">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          State{' '}
          <select name="state" value={state} onChange={(e) => go({ state: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Task{' '}
          <input name="task" value={task} placeholder="any" onChange={(e) => go({ task: (e.target as HTMLInputElement).value.trim() })} />
        </label>
      </form>
      <ErrorText message={error} />
      <table class="job-table">
        <thead>
          <tr>
            <th>Id</th>
            <th>Task</th>
            <th>State</th>
            <th>Attempts</th>
            <th>Created</th>
            <th>Took</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr data-job-id={j.id}>
              <td>
                <a href={`#/jobs/${j.id}`}>{j.id}</a>
              </td>
              <td>{j.task}</td>
              <td>
                <StateBadge state={j.state as JobState} cancelRequested={j.cancelRequested} />
              </td>
              <td class="num">
                {j.attempts}/{j.maxAttempts}
              </td>
              <td>{new Date(j.createdAt).toLocaleString()}</td>
              <td>{j.startedAt && j.finishedAt ? ago(j.finishedAt - j.startedAt) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {jobs.length === 0 ? <p class="muted">No jobs match.</p> : null}
      {cursor ? (
        <button type="button" onClick={() => void more()}>
          Load older jobs
        </button>
      ) : null}
    </div>
  );
}
