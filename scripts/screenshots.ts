// Takes the README's dashboard screenshots (docs/dashboard-*.png) with headless Chromium against a real server:
//   npm run build && node --import tsx scripts/screenshots.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { Vigil } from '../src/index.js';
import { CHROMIUM_ARGS, chromiumPath } from '../test/helpers/browser.js';

const exe = chromiumPath();
if (!exe) throw new Error('no Chromium: apt-get install -y chromium, or set CHROMIUM_PATH');
const dir = mkdtempSync(join(tmpdir(), 'vigil-shots-'));
const vigil = await Vigil.open({ store: `sqlite:${join(dir, 'vigil.db')}`, tasks: resolve('test/fixtures/server-tasks.ts') });
const server = await vigil.serve({ port: 0, logger: false, worker: { concurrency: 4, pollMs: 50 } });
const submit = async (task: string, input: unknown = null): Promise<string> => (await vigil.submit(task, input as never)).id;
try {
  for (let i = 0; i < 24; i++) await submit('echo', { frame: i });
  await submit('fails', { file: 'broken.wav' });
  await submit('sleepy', { ms: 1200, lines: 6 });
  const stuck = await submit('stuck', { scene: 'forest', frame: 118 });
  for (let i = 0; i < 6; i++) await submit('sleepy', { ms: 600_000, lines: 1 });
  await vigil.submit('echo', { later: true }, { delay: '10m' });
  await vigil.wait(stuck, { timeout: '60s' });
  const browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS, headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/#/`);
  await page.locator('[data-count="succeeded"]').waitFor();
  await page.waitForTimeout(800);
  await page.screenshot({ path: 'docs/dashboard-overview.png', fullPage: true });
  await page.goto(`${server.url}/#/jobs/${stuck}`);
  await page.locator('[data-hang-report]').waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: 'docs/dashboard-hang-report.png', fullPage: true });
  await browser.close();
  console.log('wrote docs/dashboard-overview.png and docs/dashboard-hang-report.png');
} finally {
  await server.close({ drainMs: 0 });
  await vigil.close();
  rmSync(dir, { recursive: true, force: true });
}
