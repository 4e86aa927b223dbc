import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { readInput } from '../src/cli/input.js';
import { VigilError } from '../src/errors.js';
import { defineTask } from '../src/index.js';
import { openStore, parseStoreUrl } from '../src/store/open.js';
import { parseDuration } from '../src/task/duration.js';
import { CLI } from './helpers/cli.js';

/**
 * Bad input everywhere (issue #13), with fast-check: whatever comes in, the answer is a value or a VigilError with a
 * stable code and a message — never a TypeError, a RangeError (stack overflow) or a crash. HTTP bodies are fuzzed
 * on the server's branch.
 */

const dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `f`; a throw must be a VigilError with a code and a non-empty message. */
function clearOrValue(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof VigilError, `not a VigilError: ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.match(err.code, /^VIGIL_[A-Z_]+$/);
    assert.ok(err.message.length > 10 && err.message.length < 20_000, err.message.slice(0, 200));
  }
}

const anything = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.object(), fc.array(fc.anything()), fc.constant(Number.NaN), fc.constant(-1), fc.constant(Infinity));

test('durations: any string or number is parsed or refused with a clear error', () => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.double(), fc.integer(), fc.stringMatching(/^-?\d{0,20}(\.\d{0,5})?(ms|s|m|h|d|w|y)?$/)), (v) => clearOrValue(() => parseDuration(v))), { numRuns: 2_000 });
});

test('task options: any value of any option is accepted or refused with a clear error', () => {
  const keys = ['name', 'timeout', 'grace', 'heartbeat', 'deadline', 'retries', 'memoryMb', 'concurrency', 'rateLimit', 'keep', 'isolation', 'silence', 'command', 'stdin', 'result', 'env', 'cwd', 'bogus'];
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...keys), anything, { maxKeys: 6 }), fc.boolean(), (opts, isCommand) => {
      const options = { name: 'fuzz', ...opts } as Record<string, unknown>;
      if (isCommand) options.command ??= ['true'];
      else options.run ??= () => null;
      clearOrValue(() => defineTask(options as never));
    }),
    { numRuns: 2_000 },
  );
});

test('--input: random text, deep nesting, huge strings, invalid UTF-8 — parsed or refused with a clear error', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => clearOrValue(() => readInput(s))), { numRuns: 2_000 });
  fc.assert(fc.property(fc.json(), (s) => assert.deepEqual(readInput(s), JSON.parse(s))), { numRuns: 500 });
  for (const depth of [1_000, 100_000, 1_000_000]) {
    clearOrValue(() => readInput('['.repeat(depth)));
    clearOrValue(() => readInput(`${'['.repeat(depth)}${']'.repeat(depth)}`));
    clearOrValue(() => readInput(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth - 1)}`));
  }
  const huge = `"${'x'.repeat(50 * 1024 * 1024)}`;
  clearOrValue(() => readInput(huge));
  const bad = join(dir, 'bad-utf8.json');
  writeFileSync(bad, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]));
  clearOrValue(() => readInput(`@${bad}`));
  clearOrValue(() => readInput(`@${join(dir, 'missing.json')}`));
});

test('store URLs: any string is parsed or refused with a clear error; opening one never crashes or hangs', async () => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.string().map((s) => `postgres://${s}`), fc.string().map((s) => `sqlite:${s}`)), (u) => clearOrValue(() => parseStoreUrl(u))), { numRuns: 3_000 });
  const samples = fc.sample(
    fc.oneof(
      fc.string().map((s) => `postgres://u:p@127.0.0.1:1/${encodeURIComponent(s)}?schema=${encodeURIComponent(s)}`),
      fc.string().map((s) => `postgres://${s}@[::1`),
      // Always a file inside the missing directory: a name "." or ".." made the path the directory itself.
      fc.string().map((s) => `sqlite:${join(dir, 'no-such-dir', `x${encodeURIComponent(s)}`)}.db`),
    ),
    60,
  );
  // Found by this test: a broken %-escape in the host made the driver throw a bare URIError.
  samples.push('postgres://%8D19##?P@[::1', 'postgres://u%E0:p@127.0.0.1:1/db', 'postgres://u:p@127.0.0.1:1/d%E0b');
  for (const url of samples) {
    const err = await openStore(url).then(
      (s) => s.close().then(() => null),
      (e: unknown) => e,
    );
    assert.ok(err instanceof VigilError, `${url}: ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.ok(!err.message.includes('u:p@'), err.message);
  }
});

test('CLI arguments: random arguments to submit end with a usage error (exit 2) and a message, never a stack trace', () => {
  const args = fc.sample(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('--input', '--store', '--delay', '--priority', '--key', '-x', '--', '--wait', '--timeout')), { maxLength: 5 }), { numRuns: 8, seed: 13 });
  for (const extra of args) {
    const r = spawnSync(process.execPath, [...CLI, 'submit', 'no-such-task', '--store', `sqlite:${join(dir, 'cli.db')}`, ...extra], { encoding: 'utf8', timeout: 60_000, input: '' });
    const out = `${r.stdout}${r.stderr}`;
    assert.ok(r.status !== null && r.status !== 0, `${JSON.stringify(extra)}: exit ${r.status} ${out}`);
    assert.ok(!/\n\s+at .+:\d+:\d+/.test(out), `${JSON.stringify(extra)}: a stack trace:\n${out}`);
    assert.ok(out.trim().length > 0, 'says something');
  }
});
