// Both stores treat a throwing subscriber the same way (Store.subscribe in src/store/contract.ts): the write that
// caused the event succeeds, the other subscribers still get it, and the error is not swallowed: it reaches
// 'uncaughtException'. Run in a child process, where an uncaught exception can be watched without failing the runner.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { storeFactories, type StoreLocation } from './helpers/stores.js';

const CHILD = join(import.meta.dirname, 'fixtures', 'subscriber-error-child.ts');

for (const factory of storeFactories()) {
  describe(`a throwing subscriber: ${factory.name}`, { skip: factory.skip || undefined }, () => {
    let loc: StoreLocation | undefined;
    after(async () => loc?.cleanup());
    it('does not fail the write, does not starve the others, and reaches uncaughtException', async () => {
      loc = await factory.create();
      await (await loc.open()).close(); // create and migrate the location before the child uses it
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD, loc.url], { timeout: 30_000 });
      const got = JSON.parse(stdout.trim()) as { writeOk: boolean; otherGot: string[]; uncaught: string[] };
      assert.equal(got.writeOk, true);
      assert.ok(got.otherGot.includes('enqueued'), `the other subscriber got ${JSON.stringify(got.otherGot)}`);
      assert.deepEqual(got.uncaught, ['subscriber bug']);
    });
  });
}
