import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Vigil } from '../src/index.js';
import { ENGINE_TASKS, startWorker } from './helpers/engine.js';

/**
 * Storage faults for real (issue #13): a full disk (a 4 MiB tmpfs), a store on a file system remounted read-only, a
 * truncated SQLite file. Each ends in a clear error naming the store and what to do, and loses nothing that was
 * acknowledged. Needs root (mount); skipped otherwise.
 */

const root = process.getuid?.() === 0;
const mounts: string[] = [];
after(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // Not mounted.
    }
    rmSync(m, { recursive: true, force: true });
  }
});

function tmpfs(sizeKb: number): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  mounts.push(dir);
  return dir;
}

/** Fills the file system of `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  try {
    for (;;) writeSync(fd, chunk, 0, 512);
  } catch {
    // Full to the last block.
  }
  closeSync(fd);
  return path;
}

test('disk full during a run: a write fails with a clear error naming the store; once space is back work goes on, nothing lost', { skip: !root && 'needs root (mount)' }, async (t) => {
  const dir = tmpfs(4096);
  if (!dir) return t.skip('mount failed');
  const vigil = await Vigil.open({ store: `sqlite:${join(dir, 'vigil.db')}`, tasks: ENGINE_TASKS });
  try {
    const worker = await startWorker(vigil);
    const before = await vigil.submit('noop', { before: true });
    assert.equal((await vigil.wait(before.id, { timeout: '30s' })).state, 'succeeded');
    const filler = fill(dir);
    // A job whose input is big enough that no free page can hold it: the write needs space.
    const err = await vigil.submit('noop', { pad: 'x'.repeat(256 * 1024) }).then(() => null, (e: unknown) => e as Error & { code?: string });
    assert.ok(err, 'a write on a full disk must fail');
    assert.equal(err.code, 'VIGIL_STORE_UNAVAILABLE', err.message);
    console.log(`# disk full: ${err.message}`);
    assert.match(err.message, /disk is full/);
    assert.ok(err.message.includes(dir), err.message);
    rmSync(filler);
    const after = await vigil.submit('noop', { after: true });
    assert.equal((await vigil.wait(after.id, { timeout: '30s' })).state, 'succeeded');
    assert.equal((await vigil.store.get(before.id))?.state, 'succeeded', 'nothing acknowledged was lost');
    await worker.stop({ drainMs: 1_000 });
  } finally {
    await vigil.close();
  }
});

test('a store on a read-only file system: a clear error naming the store; remounted read-write, nothing lost', { skip: !root && 'needs root (mount)' }, async (t) => {
  const dir = tmpfs(8192);
  if (!dir) return t.skip('mount failed');
  const url = `sqlite:${join(dir, 'vigil.db')}`;
  const vigil = await Vigil.open({ store: url, tasks: ENGINE_TASKS });
  const kept = await vigil.submit('noop', { kept: true });
  await vigil.close();
  // (A mount with files open for writing can not be remounted read-only: the store is closed first.)
  execFileSync('mount', ['-o', 'remount,ro', dir]);
  const refused = await Vigil.open({ store: url, tasks: ENGINE_TASKS }).then(
    async (v) => {
      try {
        await v.submit('noop', {});
        return null;
      } catch (e) {
        return e as Error & { code?: string };
      } finally {
        await v.close().catch(() => undefined);
      }
    },
    (e: unknown) => e as Error & { code?: string },
  );
  assert.ok(refused, 'a read-only store must not accept a job');
  assert.equal(refused.code, 'VIGIL_STORE_UNAVAILABLE', refused.message);
  assert.ok(refused.message.includes(dir), refused.message);
  console.log(`# read-only: ${refused.message}`);
  assert.match(refused.message, /permission|read-only|readonly/i);
  execFileSync('mount', ['-o', 'remount,rw', dir]);
  const again = await Vigil.open({ store: url, tasks: ENGINE_TASKS });
  try {
    assert.equal((await again.store.get(kept.id))?.state, 'queued', 'the job acknowledged before stays');
  } finally {
    await again.close();
  }
});

test('a truncated SQLite file: opening (or the first read) fails with a clear error naming the file, never a crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-trunc-'));
  try {
    const path = join(dir, 'vigil.db');
    const vigil = await Vigil.open({ store: `sqlite:${path}`, tasks: ENGINE_TASKS });
    for (let i = 0; i < 20; i++) await vigil.submit('noop', { i, pad: 'y'.repeat(4_000) });
    await vigil.close();
    truncateSync(path, Math.floor(statSync(path).size / 3));
    const err = await (async () => {
      const v = await Vigil.open({ store: `sqlite:${path}`, tasks: ENGINE_TASKS });
      try {
        await v.store.list({ limit: 100 });
        await v.submit('noop', {});
        return null;
      } finally {
        await v.close();
      }
    })().then((e) => e, (e: unknown) => e as Error & { code?: string });
    assert.ok(err, 'a truncated store must not read as healthy');
    assert.equal(err.code, 'VIGIL_STORE_UNAVAILABLE', err.message);
    assert.ok(err.message.includes(path), err.message);
    console.log(`# truncated: ${err.message}`);
    assert.match(err.message, /corrupt|malformed|not an SQLite database/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

