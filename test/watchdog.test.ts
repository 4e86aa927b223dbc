// G8: a frozen supervisor loop is reported from outside the loop, while it is frozen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

test('the watchdog reports a frozen event loop while it is frozen, and its recovery', async () => {
  const script = `
    import { Watchdog } from './src/engine/watchdog.ts';
    const w = new Watchdog({ beatMs: 50, stallMs: 300 });
    setTimeout(() => {
      process.stderr.write('freezing\\n');
      const end = Date.now() + 1500;
      while (Date.now() < end) {}
      setTimeout(() => w.stop(), 600);
    }, 200);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Array<{ at: number; text: string }> = [];
  child.stderr.on('data', (d: Buffer) => lines.push({ at: Date.now(), text: d.toString() }));
  const code = await new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('child did not exit within 15 s')), 15_000);
    child.on('exit', (c) => (clearTimeout(t), resolve(c)));
  });
  assert.equal(code, 0);
  const all = lines.map((l) => l.text).join('');
  assert.match(all, /has not turned for \d+ ms/);
  assert.match(all, /running again after \d+ ms frozen/);
  const freezing = lines.find((l) => l.text.includes('freezing'))!;
  const warned = lines.find((l) => l.text.includes('has not turned'))!;
  // Reported during the freeze (which lasts 1.5 s), not after it.
  assert.ok(warned.at - freezing.at < 1_400, `warned ${warned.at - freezing.at} ms into the freeze`);
});
