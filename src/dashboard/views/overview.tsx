import { ago, STATES, type Stats, type WorkerInfo } from '../api.js';
import { useLive, useNow } from '../hooks.js';
import { BarChart, ErrorText } from './common.js';

export function Overview() {
  const [stats, error] = useLive<Stats>('/api/stats');
  const [workers] = useLive<{ now: number; workers: WorkerInfo[] }>('/api/workers', null, 3000);
  const now = useNow();
  if (!stats) return <div class="loading">{error ?? 'Loading…'}</div>;
  const labels = stats.buckets.map((b) => new Date(b.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  const finished = stats.buckets.map((b) => b.succeeded + b.failed + b.cancelled);
  const failureRate = stats.buckets.map((b) => (b.succeeded + b.failed === 0 ? 0 : b.failed / (b.succeeded + b.failed)));
  const skew = workers ? Date.now() - workers.now : 0;
  return (
    <div class="overview">
      <ErrorText message={error} />
      <section class="counts">
        {STATES.map((s) => (
          <a class={`count state-${s}`} href={`#/jobs?state=${s}`} data-count={s}>
            <span class="count-n">{stats.byState[s]}</span>
            <span class="count-label">{s}</span>
          </a>
        ))}
        <div class="count oldest" data-count="oldest">
          <span class="count-n">{ago(stats.oldestQueuedAgeMs)}</span>
          <span class="count-label">oldest queued</span>
        </div>
      </section>
      <section class="charts">
        <BarChart kind="throughput" title="Jobs finished, last hour" values={finished} labels={labels} />
        <BarChart kind="failures" title="Failure rate, last hour" values={failureRate} labels={labels} />
      </section>
      <section>
        <h2>Workers</h2>
        <table class="workers">
          <thead>
            <tr>
              <th>Worker</th>
              <th>Host</th>
              <th>PID</th>
              <th>Slots</th>
              <th>Last seen</th>
            </tr>
          </thead>
          <tbody>
            {(workers?.workers ?? []).map((w) => (
              <tr>
                <td class="mono">{w.workerId}</td>
                <td>{w.hostname}</td>
                <td>{w.pid}</td>
                <td>{w.concurrency}</td>
                <td>{ago(now - skew - w.lastSeenAt)} ago</td>
              </tr>
            ))}
            {workers && workers.workers.length === 0 ? (
              <tr>
                <td colSpan={5} class="muted">
                  No worker is running: queued jobs wait until one starts (vigil worker --tasks …).
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </section>
      <section>
        <h2>Tasks</h2>
        <table class="tasks">
          <thead>
            <tr>
              <th>Task</th>
              {STATES.map((s) => (
                <th>{s}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {stats.byTask.map((t) => (
              <tr>
                <td>
                  <a href={`#/jobs?task=${encodeURIComponent(t.task)}`}>{t.task}</a>
                </td>
                {STATES.map((s) => (
                  <td class="num">{t[s]}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
