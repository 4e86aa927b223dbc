import type { JobState } from '../api.js';

export function StateBadge({ state, cancelRequested }: { state: JobState; cancelRequested?: boolean }) {
  return (
    <span class={`badge state-${state}`} data-state={state}>
      {state}
      {cancelRequested && state === 'running' ? ' (cancelling)' : ''}
    </span>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{value === undefined ? '—' : JSON.stringify(value, null, 2)}</pre>;
}

export function ErrorText({ message }: { message: string | null }) {
  return message ? <div class="error-banner">{message}</div> : null;
}

/** Bars of a series over time, as inline SVG (no chart library, no inline styles: the CSP forbids them). */
export function BarChart({ values, labels, title, kind }: { values: number[]; labels: string[]; title: string; kind: 'throughput' | 'failures' }) {
  const w = 600;
  const h = 120;
  const max = Math.max(1, ...values);
  const bw = w / Math.max(1, values.length);
  return (
    <figure class="chart" data-chart={kind}>
      <figcaption>
        {title} <span class="muted">(max {kind === 'failures' ? `${Math.round(max * 100)}%` : max} per minute)</span>
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={title}>
        {values.map((v, i) => {
          const bh = (v / max) * (h - 4);
          return (
            <rect class={`bar bar-${kind}`} x={i * bw + 1} y={h - bh} width={Math.max(1, bw - 2)} height={bh}>
              <title>{`${labels[i]}: ${kind === 'failures' ? `${Math.round(v * 100)}%` : v}`}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}
