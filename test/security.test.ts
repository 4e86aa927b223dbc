import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { startProgram } from '../src/executors/program.js';
import { openStore } from '../src/store/open.js';
import { parsePostgresUrl } from '../src/store/postgres/url.js';
import { CLI } from './helpers/cli.js';

/** Issue #13, security: Vigil's own secrets stay out of task programs, messages and doctor output. */

async function programSees(vars: string[], env: Record<string, string>): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const lines: string[] = [];
    const script = vars.map((v) => `[${v}=$${v}]`).join('');
    const program = await startProgram({ argv: ['sh', '-c', `echo "${script}"`], stdin: 'closed', onLine: (stream, line) => stream === 'stdout' && lines.push(line) });
    await program.exited;
    return lines.join('\n');
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

test('a command program does not inherit VIGIL_TOKEN, PGPASSWORD, or a VIGIL_STORE that carries a password', async () => {
  const seen = await programSees(['VIGIL_TOKEN', 'PGPASSWORD', 'VIGIL_STORE', 'OTHER'], {
    VIGIL_TOKEN: 'tok-s3cret',
    PGPASSWORD: 'pg-s3cret',
    VIGIL_STORE: 'postgres://vigil:url-s3cret@db.example:5432/jobs',
    OTHER: 'kept',
  });
  assert.equal(seen, '[VIGIL_TOKEN=][PGPASSWORD=][VIGIL_STORE=][OTHER=kept]');
  // ?password=… is a password too; a store URL without one is passed on (a program may call `vigil submit`).
  assert.equal(await programSees(['VIGIL_STORE'], { VIGIL_STORE: 'postgres://vigil@db/jobs?password=q-s3cret' }), '[VIGIL_STORE=]');
  assert.equal(await programSees(['VIGIL_STORE'], { VIGIL_STORE: 'sqlite:/var/lib/vigil.db' }), '[VIGIL_STORE=sqlite:/var/lib/vigil.db]');
});

test('postgres:// passwords never appear in store descriptions or open errors, in the userinfo or as ?password=', async () => {
  for (const url of ['postgres://vigil:s3cret-A@127.0.0.1:1/db', 'postgres://vigil@127.0.0.1:1/db?password=s3cret-A&schema=x']) {
    assert.ok(!parsePostgresUrl(url).description.includes('s3cret'), parsePostgresUrl(url).description);
    const err = await openStore(url).then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.ok(err, 'nothing listens on port 1');
    const text = `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`;
    assert.ok(!text.includes('s3cret'), text);
    assert.match(err.message, /127\.0\.0\.1:1/);
  }
  for (const bad of ['postgres://vigil:s3cret-B@[bad/db', 'postgres://vigil@[bad/db?password=s3cret-B']) {
    const err = await openStore(bad).then(() => null, (e: unknown) => e as Error);
    assert.ok(err && !err.message.includes('s3cret'), err?.message);
  }
});

test('vigil doctor on an unreachable PostgreSQL (wrong port): a clear failure, no password in its output', () => {
  const r = spawnSync(process.execPath, [...CLI, 'doctor', '--store', 'postgres://vigil:s3cret-C@127.0.0.1:1/db'], { encoding: 'utf8', timeout: 60_000 });
  const out = `${r.stdout}${r.stderr}`;
  assert.ok(!out.includes('s3cret'), out);
  assert.match(out, /127\.0\.0\.1:1/);
  assert.notEqual(r.status, 0, out);
});

test('PostgreSQL refusing logins during a run: worker errors and API errors never show the password', { skip: process.env.VIGIL_TEST_PG_URL ? false : 'VIGIL_TEST_PG_URL not set' }, async () => {
  const { pgOutage } = await import('./helpers/pg-outage.js');
  const { Vigil } = await import('../src/index.js');
  const { ENGINE_TASKS, until } = await import('./helpers/engine.js');
  const outage = await pgOutage(process.env.VIGIL_TEST_PG_URL!);
  const url = new URL(outage.url);
  url.password = 's3cret-D';
  const vigil = await Vigil.open({ store: url.toString(), tasks: ENGINE_TASKS });
  const texts: string[] = [];
  const worker = await vigil.startWorker({ concurrency: 1, pollMs: 50, storeRetry: { firstMs: 20, maxMs: 100 } });
  worker.on('event', (e: { type: string; message?: string; error?: unknown }) => {
    if (e.type === 'error') texts.push(`${e.message} ${e.error instanceof Error ? `${e.error.message} ${String(e.error.cause ?? '')}` : String(e.error)}`);
  });
  try {
    await outage.down();
    const err = await vigil.submit('noop', {}).then(() => null, (e: unknown) => e as Error);
    if (err) texts.push(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`);
    await until('the worker to report the outage', 10_000, () => texts.length >= 2);
    for (const t of texts) assert.ok(!t.includes('s3cret'), t);
    assert.ok(texts.some((t) => t.includes('postgres://')), `the errors name the store: ${texts.join(' | ')}`);
  } finally {
    await outage.up();
    await worker.stop({ drainMs: 0 });
    await vigil.close();
    await outage.cleanup();
  }
});

test('per-job limits: a result over 8 MiB fails the job (not retried) with a clear error; so does a child input over 1 MiB', async () => {
  const { openTestVigil, startWorker } = await import('./helpers/engine.js');
  const { resolve } = await import('node:path');
  const t = await openTestVigil({ tasks: resolve('test/fixtures/limits-tasks.ts') });
  try {
    const w = await startWorker(t.vigil);
    const big = await t.vigil.wait((await t.vigil.submit('big-result', { mb: 9 })).id, { timeout: '60s' });
    assert.equal(big.state, 'failed');
    assert.equal(big.attempts, 1, 'an over-limit result is not retried');
    assert.match(big.error?.message ?? '', /result of task "big-result" is \d+ bytes of JSON, over the limit of 8388608/);
    const fine = await t.vigil.wait((await t.vigil.submit('big-result', { mb: 1 })).id, { timeout: '60s' });
    assert.equal(fine.state, 'succeeded');
    const parent = await t.vigil.wait((await t.vigil.submit('big-child', { mb: 2 })).id, { timeout: '60s' });
    assert.equal(parent.state, 'failed');
    assert.match(parent.error?.message ?? '', /input of child task "small-child" is \d+ bytes of JSON, over the limit/);
    assert.deepEqual(await t.vigil.store.children(parent.id), [], 'no child was created');
    await w.stop({ drainMs: 0 });
  } finally {
    await t.cleanup();
  }
});
