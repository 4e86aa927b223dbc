import { useEffect, useRef, useState } from 'preact/hooks';
import { api, stream, type JobEvent } from './api.js';

/**
 * Loads `path` and reloads it whenever the live event stream says something changed (throttled), plus every
 * `everyMs` for things that change without events (worker last-seen). Returns [data, error].
 */
export function useLive<T>(path: string | null, filter: ((e: JobEvent) => boolean) | null = () => true, everyMs = 5000): [T | null, string | null] {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  useEffect(() => {
    if (!path) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let loading = false;
    let again = false;
    const load = async (): Promise<void> => {
      if (loading) {
        again = true;
        return;
      }
      loading = true;
      try {
        const d = await api<T>(path);
        if (!cancelled) {
          setData(d);
          setError(null);
        }
      } catch (err) {
        if (!cancelled) setError(err instanceof Error ? err.message : String(err));
      } finally {
        loading = false;
        if (again && !cancelled) {
          again = false;
          void load();
        }
      }
    };
    const soon = (): void => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, 150);
    };
    void load();
    // null filter: no event stream at all (browsers allow few connections per host; only poll).
    const stop = filterRef.current
      ? stream('/api/events', (event, data) => {
          if (event === 'job' && filterRef.current?.(data as JobEvent)) soon();
        })
      : () => undefined;
    const every = setInterval(() => void load(), everyMs);
    return () => {
      cancelled = true;
      stop();
      clearInterval(every);
      if (timer) clearTimeout(timer);
    };
  }, [path]);
  return [data, error];
}

/** A clock that ticks every second, for "ago" texts. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}
