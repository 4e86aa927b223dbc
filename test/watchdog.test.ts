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

// After the frozen-supervisor test of engine-races the test process had an unreaped child in clean runs: the esbuild
// service tsx started in the watchdog thread's own loader thread (from source, with a cold transform cache), which
// nobody reaped once that thread ended with the watchdog. The watchdog now stops it there before it ends.
test('from source, a watchdog that loaded its capture module through tsx leaves no unreaped esbuild process when stopped', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/watchdog-loader-child.ts'], {
    // A cold cache for this process: tsx must start esbuild to compile what the watchdog thread loads.
    env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`child did not exit within 60 s: ${err}`)), 60_000);
    child.on('exit', (c) => (clearTimeout(t), resolve(c)));
  });
  assert.equal(code, 0, err);
  const seen = JSON.parse(out.trim().split('\n').at(-1)!) as { esbuildBefore: number; esbuildDuring: number; after: Array<{ pid: number; comm: string; state: string }> };
  assert.ok(seen.esbuildDuring > seen.esbuildBefore, `the watchdog thread's loader started esbuild (else this test proves nothing): ${JSON.stringify(seen)}`);
  const zombies = seen.after.filter((c) => c.state === 'Z');
  assert.deepEqual(zombies, [], `unreaped children after the watchdog stopped: ${JSON.stringify(zombies)}`);
});
