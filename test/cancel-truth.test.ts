import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { openTestVigil, startWorker, until } from './helpers/engine.js';

const TASKS = resolve('test/fixtures/firsthour-tasks.ts');
const quiet = { timeout: '30s', onNoWorker: () => undefined };

test('cancelling a running job keeps the reason, captures a hang report, and does not charge the attempt', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    const job = await t.vigil.submit('fh.stuck', null);
    await until('fh.stuck to print', 15_000, async () => (await t.vigil.logs(job.id)).some((l) => l.line === 'waiting for lock...'));
    await t.vigil.cancel(job.id, 'user aborted: wrong file');
    const ended = await t.vigil.wait(job.id, quiet);
    assert.equal(ended.state, 'cancelled');
    assert.match(ended.error!.message, /^cancelled: user aborted: wrong file; it stopped \d+ms after the abort signal; hang report stored/);
    const [attempt] = await t.vigil.attempts(job.id);
    assert.equal(attempt!.outcome, 'cancelled');
    assert.equal(attempt!.charged, false, 'a cancelled attempt is not charged');
    assert.equal(ended.chargedAttempts, 0);
    assert.equal(attempt!.hangReport?.kind, 'cancelled');
    assert.ok(attempt!.hangReport!.logTail.some((l) => l.includes('waiting for lock...')), JSON.stringify(attempt!.hangReport!.logTail));
  } finally {
    await t.cleanup();
  }
});

test('a kill message says whether the program exited on SIGTERM or had to be SIGKILLed after the grace', async () => {
  const t = await openTestVigil({ tasks: TASKS });
  try {
    await startWorker(t.vigil);
    const polite = await t.vigil.submit('fh.polite', null);
    const deaf = await t.vigil.submit('fh.deaf', null);
    const [p, d] = await Promise.all([t.vigil.wait(polite.id, quiet), t.vigil.wait(deaf.id, quiet)]);
    assert.equal(p.error?.kind, 'timeout');
    assert.match(p.error!.message, /exceeded its timeout of 1s; it stopped \d+ms after SIGTERM/);
    const pMs = Number(/it stopped (\d+)ms/.exec(p.error!.message)![1]);
    assert.ok(pMs < 3_000, `stopped ${pMs} ms after SIGTERM, within the 3 s grace`);
    assert.equal(d.error?.kind, 'timeout');
    assert.match(d.error!.message, /exceeded its timeout of 1s; it did not stop on SIGTERM and was killed \(SIGKILL\) after the 500ms grace/);
  } finally {
    await t.cleanup();
  }
});
