// The dashboard's only door to the server: JSON calls and live streams, with the bearer token when one is set.
// Types mirror the API's JSON (src/types.ts, src/server/schemas.ts); the dashboard never imports server code.

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const STATES: JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export interface SerializedError {
  kind: string;
  message: string;
  name?: string;
  stack?: string;
  details?: Record<string, unknown>;
  cause?: { message: string };
}

export interface Job {
  id: string;
  task: string;
  state: JobState;
  input: unknown;
  result: unknown;
  error: SerializedError | null;
  attempts: number;
  maxAttempts: number;
  parentId: string | null;
  childKey: string | null;
  priority: number;
  runAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  progress: { fraction: number | null; message?: string } | null;
  cancelRequested: boolean;
}

export interface Frame {
  functionName: string;
  file: string;
  line: number;
  column: number;
}

export interface ProcessSnapshot {
  pid: number;
  ppid: number;
  command: string;
  state?: string;
  wchan?: string;
  syscall?: string;
  blockedOn?: string;
  threads?: Array<{ tid: number; name?: string; state?: string; wchan?: string }>;
}

export interface HangReport {
  kind: string;
  capturedAt: number;
  elapsedMs: number;
  lastHeartbeatAt: number | null;
  logTail: string[];
  where: {
    stack?: Frame[];
    asyncStack?: Frame[];
    pendingResources?: Array<{ type: string; description: string }>;
    processes?: ProcessSnapshot[];
    notes: string[];
  };
}

export interface Attempt {
  attempt: number;
  workerId: string;
  startedAt: number;
  finishedAt: number | null;
  outcome: string | null;
  charged: boolean;
  error: SerializedError | null;
  hangReport: HangReport | null;
}

export interface JobDetail {
  job: Job;
  attempts: Attempt[];
  children: { counts: Record<JobState, number>; jobs: Job[] };
}

export interface Stats {
  now: number;
  byState: Record<JobState, number>;
  byTask: Array<{ task: string } & Record<JobState, number>>;
  oldestQueuedAgeMs: number | null;
  bucketMs: number;
  buckets: Array<{ start: number; succeeded: number; failed: number; cancelled: number }>;
}

export interface WorkerInfo {
  workerId: string;
  hostname: string;
  pid: number;
  concurrency: number;
  startedAt: number;
  lastSeenAt: number;
  stats: unknown;
}

export interface LogLine {
  seq: number;
  attempt: number;
  ts: number;
  stream: string;
  line: string;
}

export interface JobEvent {
  seq: number;
  jobId: string;
  task: string;
  state: JobState;
  attempt: number;
  cancelRequested: boolean;
}

const TOKEN_KEY = 'vigil.token';

export class Unauthorized extends Error {}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (res.status === 401) throw new Unauthorized('this server needs a token');
  const body = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/**
 * A Server-Sent Events stream over fetch (EventSource can not send the Authorization header). Reconnects after a
 * drop with Last-Event-ID, so nothing is missed; stops for good on `end` or when the returned function is called.
 */
export function stream(path: string, on: (event: string, data: unknown) => void): () => void {
  const controller = new AbortController();
  let lastId: string | null = null;
  let stopped = false;
  const run = async (): Promise<void> => {
    while (!stopped) {
      try {
        const res = await fetch(path, {
          headers: headers(lastId ? { 'last-event-id': lastId, accept: 'text/event-stream' } : { accept: 'text/event-stream' }),
          signal: controller.signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let id: string | null = null;
        let event = 'message';
        let data = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line === '') {
              if (data) {
                if (id !== null) lastId = id;
                on(event, JSON.parse(data));
                if (event === 'end') {
                  stopped = true;
                  controller.abort();
                  return;
                }
              }
              id = null;
              event = 'message';
              data = '';
            } else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
        }
      } catch {
        if (stopped) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}

export function ago(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function time(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toLocaleTimeString();
}

/** GET /api/jobs/:id/why (src/why/explain.ts's WhyAnswer): why a job is not running or not finished. */
export interface WhyAnswer {
  jobId: string;
  task: string;
  state: JobState;
  code: string;
  summary: string;
  /** Until when the cause holds (store clock, epoch ms). */
  until?: number;
  jobs?: string[];
  children?: { done: number; total: number; waiting: WhyAnswer[] };
  deadEnd?: { jobId: string; code: string; summary: string };
}
