import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { defineTask, type StandardSchemaV1 } from '../src/index.js';
import { checkPayload, PayloadError } from '../src/task/payload.js';
import { openTestVigil, startWorker } from './helpers/engine.js';

const TASKS = resolve('test/fixtures/payload-tasks.ts');

function rejects(value: unknown, path: string, words: RegExp): void {
  assert.throws(
    () => checkPayload(value, 'input'),
    (err: unknown) => err instanceof PayloadError && err.path === path && words.test(err.message) && err.message.startsWith(`${path}: `),
    `expected ${path} to be rejected with ${words}`,
  );
}

test('checkPayload rejects every value JSON would change, naming its path', () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const cyclic: Record<string, unknown> = { a: { b: {} } };
  (cyclic.a as { b: Record<string, unknown> }).b.back = cyclic;
  rejects({ i: Number.NaN }, 'input.i', /NaN is not JSON/);
  rejects({ xs: [1, Infinity] }, 'input.xs[1]', /Infinity is not JSON/);
  rejects({ n: -Infinity }, 'input.n', /-Infinity/);
  rejects({ m: new Map([['a', 1]]) }, 'input.m', /a Map is not JSON.*Object\.fromEntries/);
  rejects({ s: new Set([1]) }, 'input.s', /a Set is not JSON.*\[\.\.\.set\]/);
  rejects({ cb: () => 1 }, 'input.cb', /a function is not JSON/);
  rejects({ big: 10n }, 'input.big', /BigInt/);
  rejects({ buf: Buffer.from('hi') }, 'input.buf', /a Buffer is not JSON/);
  rejects({ bytes: new Uint8Array(2) }, 'input.bytes', /binary data/);
  rejects({ when: new Date(0) }, 'input.when', /a Date is not JSON.*toISOString/);
  rejects({ p: new Point(1) }, 'input.p', /a Point instance is not JSON/);
  rejects(cyclic, 'input.a.b.back', /cycle/);
  rejects({ xs: [1, undefined] }, 'input.xs[1]', /undefined in an array/);
  // eslint-disable-next-line no-sparse-arrays
  rejects({ xs: [1, , 3] }, 'input.xs[1]', /hole/);
  rejects({ 'a b': { c: Symbol('x') } }, 'input["a b"].c', /Symbol/);
  rejects(undefined, 'input', /undefined is not JSON; use null/);
});

test('checkPayload accepts plain JSON, shared (non-cyclic) references and absent (undefined) properties', () => {
  const shared = { k: 1 };
  const value = { a: shared, b: shared, s: 'x', n: -0.5, t: true, z: null, list: [[], {}], opt: undefined, bare: Object.create(null) as object };
  assert.equal(checkPayload(value, 'input'), value);
  assert.equal(checkPayload(null, 'input'), null);
});

test('submit rejects lossy inputs with the path and stores nothing', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    for (const [input, expected] of [
      [{ kind: 'x', i: Number.NaN }, /input\.i: NaN is not JSON/],
      [{ kind: 'x', m: new Map() }, /input\.m: a Map is not JSON; convert it with Object\.fromEntries/],
      [{ kind: 'x', cb: () => 1 }, /input\.cb: a function is not JSON/],
      [{ kind: 'x', b: Buffer.from('a') }, /input\.b: a Buffer is not JSON/],
    ] as const) {
      await assert.rejects(t.vigil.submit('payload.lossy', input as never), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VIGIL_INVALID_INPUT');
        assert.match(err.message, expected);
        return true;
      });
    }
    assert.equal((await t.vigil.list()).length, 0);
  } finally {
    await t.cleanup();
  }
});

test('a task returning a Map or NaN fails at once (not retried) naming the path; a void task stores null', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    const map = await t.vigil.submit('payload.lossy', { kind: 'map' });
    const nan = await t.vigil.submit('payload.lossy', { kind: 'nan' });
    const empty = await t.vigil.submit('payload.void', { path: '/tmp/x' });
    const quiet = { timeout: '30s', onNoWorker: () => undefined };
    const [m, n, v] = await Promise.all([t.vigil.wait(map.id, quiet), t.vigil.wait(nan.id, quiet), t.vigil.wait(empty.id, quiet)]);
    assert.equal(m.state, 'failed');
    assert.match(m.error!.message, /returned a value JSON cannot carry: result\.m: a Map is not JSON/);
    assert.equal(m.attempts, 1, 'a deterministic return value is not retried');
    assert.equal(m.result, null);
    assert.equal(n.state, 'failed');
    assert.match(n.error!.message, /result\.list\[1\]: NaN is not JSON/);
    assert.equal(v.state, 'succeeded');
    assert.equal(v.result, null);
  } finally {
    await t.cleanup();
  }
});

test('a zod input schema is checked at submit: the error names the field; defaults are stored', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await assert.rejects(t.vigil.submit('payload.chunk', { doc: 'a' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'VIGIL_INVALID_INPUT');
      assert.match(err.message, /input of task "payload\.chunk" does not match its input schema/);
      assert.match(err.message, /input\.i: /);
      return true;
    });
    await assert.rejects(t.vigil.submit('payload.chunk', { doc: 'a', i: -1 }), /input\.i: .*(>=|greater|too small)/i);
    await assert.rejects(t.vigil.submit('payload.chunk', { doc: 'a', i: 1, tags: [1] }), /input\.tags\[0\]: /);
    await assert.rejects(t.vigil.submit('payload.chunk', null), /input: /);
    assert.equal((await t.vigil.list()).length, 0);
    const ok = await t.vigil.submit('payload.chunk', { doc: 'a', i: 2 });
    assert.deepEqual(ok.input, { doc: 'a', i: 2, tags: [] });
  } finally {
    await t.cleanup();
  }
});

test('defineTask: input must be a Standard Schema; a hand-written one works too', async () => {
  assert.throws(() => defineTask({ name: 'bad', input: { parse() {} } as never, run: () => null }), /option "input" must be a Standard Schema v1/);
  const even: StandardSchemaV1<unknown, number> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (v) => (typeof v === 'number' && v % 2 === 0 ? { value: v } : { issues: [{ message: 'must be even', path: [] }] }),
    },
  };
  const task = defineTask({ name: 'even', input: even, run: (n) => n * 2 });
  const zodTask = defineTask({ name: 'z', input: z.object({ a: z.string() }), run: (i) => i.a.length });
  const t = await openTestVigil({ tasks: TASKS });
  try {
    // A definition passed to submit brings its schema even when the opened module does not define it.
    await assert.rejects(t.vigil.submit(task, 3 as never), /input: must be even/);
    await assert.rejects(t.vigil.submit(zodTask, { a: 1 } as never), /input\.a: /);
  } finally {
    await t.cleanup();
  }
});
