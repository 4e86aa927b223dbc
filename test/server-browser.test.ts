// The dashboard in a real browser (Debian's Chromium through playwright-core): live counts, live job list, a hang
// report with function and line, hostile log text shown as text, cancel from the page, the "why" panel.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Vigil } from '../src/index.js';
import type { VigilServer } from '../src/server/server.js';
import type { Job } from '../src/types.js';
import { CHROMIUM_ARGS, chromiumPath, skipReason } from './helpers/browser.js';
import { until } from './helpers/engine.js';

const TASKS = resolve('test/fixtures/server-tasks.ts');
const STUCK_LINE = readFileSync(TASKS, 'utf8').split('\n').findIndex((l) => l.includes('// STUCK_LINE')) + 1;
const skip = skipReason();

describe('dashboard in Chromium', { skip }, () => {
  let dir: string;
  let vigil: Vigil;
  let server: VigilServer;
  let browser: Browser;
  const cspViolations: string[] = [];

  before(async () => {
    if (!existsSync(resolve('dist/dashboard/app.js'))) execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'vigil-browser-'));
    vigil = await Vigil.open({ store: `sqlite:${join(dir, 'vigil.db')}`, tasks: TASKS });
    server = await vigil.serve({ port: 0, logger: false, worker: { concurrency: 3, pollMs: 50 } });
    browser = await chromium.launch({ executablePath: chromiumPath()!, args: CHROMIUM_ARGS, headless: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close({ drainMs: 0 });
    await vigil?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${server.url}/${hash}`);
    return page;
  }

  async function submit(task: string, input: unknown = null): Promise<Job> {
    const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task, input }) });
    assert.equal(res.status, 201);
    return (await res.json()) as Job;
  }

  async function stateOf(id: string): Promise<string> {
    return (await vigil.get(id)).state;
  }

  it('the overview renders live counts (no reload)', async () => {
    const page = await open('#/');
    const count = page.locator('[data-count="succeeded"] .count-n');
    await count.waitFor({ timeout: 15_000 });
    const before = Number(await count.textContent());
    const a = await submit('echo', 1);
    const b = await submit('echo', 2);
    await until('both succeeded', 15_000, async () => (await stateOf(a.id)) === 'succeeded' && (await stateOf(b.id)) === 'succeeded');
    await until('the count went up on the page', 10_000, async () => Number(await count.textContent()) >= before + 2);
    assert.ok(await page.locator('figure[data-chart="throughput"] rect').count() > 0, 'the throughput chart is drawn');
    assert.ok(await page.locator('table.workers td', { hasText: String(process.pid) }).count() > 0, 'the worker is listed');
    await page.close();
  });

  it('a job submitted through the API appears in the list without reload', async () => {
    const page = await open('#/jobs');
    await page.locator('table.job-table').waitFor({ timeout: 15_000 });
    const job = await submit('sleepy', { ms: 200 });
    await page.locator(`tr[data-job-id="${job.id}"]`).waitFor({ timeout: 10_000 });
    await page.locator(`tr[data-job-id="${job.id}"] [data-state="succeeded"]`).waitFor({ timeout: 15_000 });
    await page.close();
  });

  it("a timed-out job's page shows its hang report with the function name and line", async () => {
    const job = await submit('stuck');
    await until('stuck job failed', 30_000, async () => (await stateOf(job.id)) === 'failed');
    const page = await open(`#/jobs/${job.id}`);
    const report = page.locator('[data-hang-report]');
    await report.waitFor({ timeout: 15_000 });
    const top = page.locator('[data-hang-report] li.frame').first();
    assert.equal(await top.locator('.fn').textContent(), 'stuckInRenderLoop');
    assert.match((await top.locator('.loc').textContent()) ?? '', new RegExp(`server-tasks\\.ts:${STUCK_LINE}:\\d+$`));
    assert.match((await report.textContent()) ?? '', /timeout/);
    await page.close();
  });

  it('a log line "<script>…" is shown as text, never run', async () => {
    const job = await submit('hostile');
    await until('hostile job succeeded', 15_000, async () => (await stateOf(job.id)) === 'succeeded');
    const page = await open(`#/jobs/${job.id}`);
    const log = page.locator('[data-log]');
    await page.locator('[data-log] .log-line').first().waitFor({ timeout: 15_000 });
    assert.match((await log.textContent()) ?? '', /<script>window\.__pwned = 1<\/script><img src=x onerror="window\.__pwned=2">/);
    assert.equal(await page.locator('[data-log] script, [data-log] img').count(), 0, 'no element was created from job text');
    assert.ok(((await page.locator('pre.json').allTextContents()).join('')).includes('<b>not bold</b>'), 'the result is shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    await page.close();
  });

  it('cancel from the page cancels a running job', async () => {
    const job = await submit('forever');
    await until('forever job running', 20_000, async () => (await stateOf(job.id)) === 'running');
    const page = await open(`#/jobs/${job.id}`);
    const button = page.locator('button[data-action="cancel"]');
    await button.waitFor({ timeout: 15_000 });
    await until('cancel enabled', 10_000, async () => button.isEnabled());
    await button.click();
    await until('job cancelled in the store', 20_000, async () => (await stateOf(job.id)) === 'cancelled');
    await page.locator('.job-head [data-state="cancelled"]').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('a job queued for a task no worker serves: the why panel names that cause', async () => {
    // Stored directly: the API refuses a task this server's tasks module does not define, but another process's may.
    const [r] = await vigil.store.enqueue([{ task: 'elsewhere', input: null, retry: { maxAttempts: 1, backoffMs: 0, factor: 1, maxDelayMs: 0, jitter: 0 } }]);
    const id = r!.job.id;
    try {
      const page = await open(`#/jobs/${id}`);
      const node = page.locator(`[data-why] .why-node[data-why-job="${id}"]`);
      await node.waitFor({ timeout: 15_000 });
      assert.equal(await node.getAttribute('data-why-code'), 'no-worker');
      assert.match((await page.locator('[data-why]').textContent()) ?? '', /no live worker serves task elsewhere/);
      assert.match((await page.locator('[data-why] h3').textContent()) ?? '', /not running/);
      await page.close();
    } finally {
      await vigil.cancel(id);
    }
  });

  it("a parent waiting on a child behind a held cap: the why panel shows the child's answer and links the holder", async () => {
    const holder = await submit('gate', { ms: 600_000 });
    const parent = await submit('gateParent', { ms: 10 });
    try {
      await until('the holder runs', 20_000, async () => (await stateOf(holder.id)) === 'running');
      const page = await open(`#/jobs/${parent.id}`);
      const top = page.locator(`[data-why] .why-node[data-why-job="${parent.id}"]`);
      await top.waitFor({ timeout: 20_000 });
      const leaf = page.locator('[data-why] .why-node .why-node[data-why-code="concurrency-cap"]');
      await leaf.waitFor({ timeout: 20_000 });
      assert.equal(await top.getAttribute('data-why-code'), 'waiting-children');
      assert.match((await top.locator('summary').first().textContent()) ?? '', /0 of 1 children done/);
      assert.equal(await leaf.locator(`.why-jobs a[href="#/jobs/${holder.id}"]`).count(), 1, 'the holder is a link');
      await page.close();
    } finally {
      await vigil.cancel(parent.id);
      await vigil.cancel(holder.id);
    }
  });

  it('the page ran under the strict CSP without a violation', () => {
    assert.deepEqual(cspViolations, []);
  });
});
