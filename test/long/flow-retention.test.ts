// Long: `npm run test:flow-long`. The acceptance run of issue 17: 100,000 finished jobs pruned by a worker.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertResponsive, describeRun, retentionRun } from '../helpers/retention.js';

describe('retention, 100,000 jobs (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-retention-long-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('100,000 finished jobs pruned by a worker without its event-loop delay going over 50 ms; the file shrinks', { timeout: 600_000 }, async () => {
    const r = await retentionRun(join(dir, 'sweep.db'), 50_000);
    console.log(`retention: ${describeRun(100_000, r)}`);
    assertResponsive(r);
    assert.ok(r.afterSize < r.before / 2, `the file shrank: ${r.before} → ${r.afterSize}`);
  });
});
