import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setToken, Unauthorized } from './api.js';
import { JobPage } from './views/job.js';
import { JobList } from './views/jobs.js';
import { Overview } from './views/overview.js';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function TokenForm({ onDone }: { onDone: () => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim());
        onDone();
      }}
    >
      <p>This server needs its token (the value of VIGIL_TOKEN where it runs).</p>
      <input type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit">Use token</button>
    </form>
  );
}

function App() {
  const hash = useHash();
  const [auth, setAuth] = useState<'checking' | 'ok' | 'needed'>('checking');
  useEffect(() => {
    if (auth !== 'checking') return;
    api('/api/stats')
      .then(() => setAuth('ok'))
      .catch((err: unknown) => setAuth(err instanceof Unauthorized ? 'needed' : 'ok'));
  }, [auth]);
  const [path, queryText] = hash.replace(/^#/, '').split('?') as [string, string | undefined];
  const query = new URLSearchParams(queryText ?? '');
  const jobMatch = /^\/jobs\/(\d+)$/.exec(path);
  let page;
  if (auth === 'needed') page = <TokenForm onDone={() => setAuth('checking')} />;
  else if (auth === 'checking') page = <div class="loading">Loading…</div>;
  else if (jobMatch) page = <JobPage id={jobMatch[1]!} />;
  else if (path.startsWith('/jobs')) page = <JobList query={query} />;
  else page = <Overview />;
  const tab = jobMatch || path.startsWith('/jobs') ? 'jobs' : 'overview';
  return (
    <>
      <nav class="top">
        <span class="brand">Vigil</span>
        <a href="#/" class={tab === 'overview' ? 'active' : ''}>
          Overview
        </a>
        <a href="#/jobs" class={tab === 'jobs' ? 'active' : ''}>
          Jobs
        </a>
        <a href="/api/openapi.json" class="right">
          API
        </a>
      </nav>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
