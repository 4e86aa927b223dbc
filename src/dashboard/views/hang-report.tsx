import { ago, type Frame, type HangReport } from '../api.js';

function FrameList({ frames, label }: { frames: Frame[]; label: string }) {
  return (
    <div class="frames">
      <h4>{label}</h4>
      <ol class="stack">
        {frames.map((f, i) => (
          <li class={i === 0 ? 'frame top' : 'frame'}>
            <span class="fn">{f.functionName || '(anonymous)'}</span>
            <span class="loc">
              {f.file}:{f.line}:{f.column}
            </span>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** DESIGN §5 made readable: where it was stuck, first; then what it was waiting for, the processes, the last logs. */
export function HangReportView({ report }: { report: HangReport }) {
  const w = report.where;
  return (
    <div class="hang-report" data-hang-report>
      <h3>
        Hang report: <span class="kind">{report.kind}</span> after {ago(report.elapsedMs)}
        {report.lastHeartbeatAt ? <span class="muted"> · last heartbeat {new Date(report.lastHeartbeatAt).toLocaleTimeString()}</span> : null}
      </h3>
      {w.stack && w.stack.length ? <FrameList frames={w.stack} label="Stuck here (JS stack of the task's thread, innermost first)" /> : null}
      {w.asyncStack && w.asyncStack.length ? <FrameList frames={w.asyncStack} label="Awaited from" /> : null}
      {w.pendingResources && w.pendingResources.length ? (
        <div>
          <h4>Waiting on</h4>
          <ul>
            {w.pendingResources.map((r) => (
              <li>
                <span class="mono">{r.type}</span>: {r.description}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {w.processes && w.processes.length ? (
        <div>
          <h4>Process tree</h4>
          <table class="procs">
            <thead>
              <tr>
                <th>PID</th>
                <th>Parent</th>
                <th>Command</th>
                <th>State</th>
                <th>Blocked on</th>
              </tr>
            </thead>
            <tbody>
              {w.processes.map((p) => (
                <tr>
                  <td>{p.pid}</td>
                  <td>{p.ppid}</td>
                  <td class="mono">{p.command}</td>
                  <td>
                    {p.state ?? '—'}
                    {p.wchan ? <span class="muted"> ({p.wchan})</span> : null}
                  </td>
                  <td>{p.blockedOn ?? p.syscall ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {w.notes.length ? (
        <ul class="notes">
          {w.notes.map((n) => (
            <li>{n}</li>
          ))}
        </ul>
      ) : null}
      {report.logTail.length ? (
        <div>
          <h4>Last log lines before the kill</h4>
          <pre class="log">{report.logTail.join('\n')}</pre>
        </div>
      ) : null}
    </div>
  );
}
