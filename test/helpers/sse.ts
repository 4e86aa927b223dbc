// A minimal Server-Sent Events client for tests: fetch + a line parser, so tests can send headers
// (Authorization, Last-Event-ID) and close the connection when they want.

export interface SseEvent {
  id: string | null;
  event: string;
  data: unknown;
}

export interface SseClient {
  /** The next event, or null when the stream ended. Fails after `ms`. */
  next(ms?: number): Promise<SseEvent | null>;
  /** Events until one matches `until` (included) or the stream ends. */
  collect(until: (e: SseEvent) => boolean, ms?: number): Promise<SseEvent[]>;
  close(): void;
  readonly status: number;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const queue: Array<SseEvent | null> = [];
  const waiters: Array<(e: SseEvent | null) => void> = [];
  const push = (e: SseEvent | null): void => {
    const w = waiters.shift();
    if (w) w(e);
    else queue.push(e);
  };
  if (res.body && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    void (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      let cur: { id: string | null; event: string; data: string[] } = { id: null, event: 'message', data: [] };
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line === '') {
              if (cur.data.length) push({ id: cur.id, event: cur.event, data: JSON.parse(cur.data.join('\n')) });
              cur = { id: null, event: 'message', data: [] };
            } else if (line.startsWith('id: ')) cur.id = line.slice(4);
            else if (line.startsWith('event: ')) cur.event = line.slice(7);
            else if (line.startsWith('data: ')) cur.data.push(line.slice(6));
          }
        }
      } catch {
        // aborted by close()
      }
      push(null);
    })();
  } else {
    push(null);
  }
  const next = (ms = 10_000): Promise<SseEvent | null> => {
    if (queue.length) return Promise.resolve(queue.shift()!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`no SSE event from ${url} within ${ms} ms`));
      }, ms);
      const w = (e: SseEvent | null): void => {
        clearTimeout(t);
        resolve(e);
      };
      waiters.push(w);
    });
  };
  return {
    status: res.status,
    next,
    async collect(until, ms = 10_000) {
      const out: SseEvent[] = [];
      const end = Date.now() + ms;
      for (;;) {
        const e = await next(Math.max(1, end - Date.now()));
        if (!e) return out;
        out.push(e);
        if (until(e)) return out;
      }
    },
    close() {
      controller.abort();
    },
  };
}
