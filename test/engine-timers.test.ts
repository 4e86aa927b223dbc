// Timing logic with time as an input: heartbeat, timeout, deadline and the outcome's retry schedule, driven by a
// manual clock (no sleeping); and long durations past setTimeout's 2^31-1 ms, with real timers (issue 10, M1).
import { describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineTask, StoreUnavailableError } from '../src/index.js';
import { longTimeout, MAX_TIMER_MS } from '../src/clock.js';
import { ActivityBatcher } from '../src/engine/log-batcher.js';
import { Slots } from '../src/engine/slots.js';
import { AttemptSupervisor, ATTEMPT_TRANSITIONS, SLOT_TRANSITIONS, type AttemptPhase, type SupervisorEvent } from '../src/engine/supervise.js';
import type { AttemptChannel, AttemptEnd, Executor, RunningAttempt } from '../src/executors/types.js';
import type { Store } from '../src/store/contract.js';
import { openStore } from '../src/store/open.js';
import type { TaskDefinition } from '../src/task/define.js';
import { ManualClock } from './helpers/clock.js';
import { hooked } from './helpers/hooked-store.js';
import { openTestVigil, startWorker } from './helpers/engine.js';
import { assertNoLeaks, snapshot } from './helpers/leaks.js';

const HOUR = 3_600_000;

/** An executor whose attempt does exactly what the test says, when it says. */
class ScriptedAttempt implements RunningAttempt {
  readonly done: Promise<AttemptEnd>;
  aborted: string | null = null;
  killed = false;
  end!: (end: AttemptEnd) => void;
  /** `queued`: it queues in the executor behind other attempts (as a thread attempt for a busy thread) until begin(). */
  constructor(
    readonly channel: AttemptChannel,
    public queued = false,
  ) {
    this.done = new Promise((r) => (this.end = r));
  }
  /** A thread is given to it or started for it: its clocks start (what the thread executor does then). */
  begin(): number {
    this.queued = false;
    return this.channel.clockStarts!();
  }
  abort(reason: string): void {
    this.aborted = reason;
    // As a thread attempt does: one that never got a thread ends at once (killed), its code never ran.
    if (this.queued) this.end({ type: 'killed' });
  }
  async kill(): Promise<void> {
    this.killed = true;
    this.end({ type: 'killed' });
  }
  async captureHang(): Promise<{ notes: string[] }> {
    return { notes: ['scripted'] };
  }
  pids(): number[] {
    return [];
  }
}

async function harness(def: TaskDefinition, options: { wrap?: (s: Store) => Store; deadlineMs?: number; queued?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-timers-'));
  const real = await openStore(`sqlite:${join(dir, 'vigil.db')}`);
  const store = options.wrap ? options.wrap(real) : real;
  const [enqueued] = await store.enqueue([{ task: def.options.name, input: null, retry: def.options.retry, deadlineMs: options.deadlineMs ?? null }]);
  const job = enqueued!.job;
  const [claimed] = await store.claim({ workerId: 'w', leaseMs: 600_000, limit: 1, tasks: { [def.options.name]: 1 } });
  assert.ok(claimed);
  const clock = new ManualClock();
  const offset = (await store.now()) - clock.now();
  const attempts: ScriptedAttempt[] = [];
  const executor: Executor = {
    start: (_spec, channel) => {
      const a = new ScriptedAttempt(channel, options.queued);
      attempts.push(a);
      return a;
    },
    close: async () => undefined,
  };
  const slots = new Slots(1);
  slots.take();
  const events: SupervisorEvent[] = [];
  const batcher = new ActivityBatcher(store);
  const sup = new AttemptSupervisor(claimed, {
    store,
    tasks: new Map([[def.options.name, def]]),
    tasksModule: 'unused',
    batcher,
    slots,
    executorFor: () => executor,
    clockOffsetMs: () => offset,
    captureBudgetMs: 500,
    clock,
    storeRetry: { firstMs: 100, maxMs: 5_000 },
    onEvent: (e) => events.push(e),
  });
  const running = sup.run();
  await clock.advance(0);
  return {
    jobId: job.id,
    store: real,
    clock,
    sup,
    events,
    running,
    attempt: () => attempts[0]!,
    enforced: () => events.find((e) => e.type === 'enforcing') as Extract<SupervisorEvent, { type: 'enforcing' }> | undefined,
    async close() {
      await batcher.close();
      await real.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('supervisor timing on a manual clock', () => {
  test('heartbeat 10s: each beat restarts the window; silence for exactly 10 s ends it stalled, killed after the grace', async () => {
    const h = await harness(defineTask({ name: 'beats', heartbeat: '10s', grace: '1s', retries: 0, run: () => null }));
    try {
      const t0 = h.clock.now();
      await h.clock.advance(9_999);
      assert.equal(h.enforced(), undefined);
      h.attempt().channel.heartbeat(undefined);
      await h.clock.advance(9_999);
      assert.equal(h.enforced(), undefined, 'a beat restarted the window');
      await h.clock.advance(1);
      assert.equal(h.enforced()?.kind, 'stalled');
      assert.ok(h.attempt().aborted, 'the task was asked to stop');
      await h.clock.advance(999);
      assert.equal(h.attempt().killed, false, 'the grace is not over');
      await h.clock.advance(1);
      await h.running;
      assert.equal(h.attempt().killed, true);
      const job = await h.store.get(h.jobId);
      assert.equal(job?.state, 'failed');
      assert.equal(job?.error?.kind, 'stalled');
      const [attempt] = await h.store.attempts(h.jobId);
      assert.equal(attempt?.hangReport?.capturedAt, t0 + 19_999);
      assert.equal(attempt?.hangReport?.lastHeartbeatAt, t0 + 9_999);
      assert.equal(h.sup.state.phase, 'done');
      assert.equal(h.sup.state.slot, 'released');
    } finally {
      await h.close();
    }
  });

  test("timeout '600h' fires at 600 h, not a millisecond earlier", async () => {
    const h = await harness(defineTask({ name: 'long', timeout: '600h', grace: '0ms', retries: 0, run: () => null }));
    try {
      await h.clock.advance(600 * HOUR - 1);
      assert.equal(h.enforced(), undefined);
      await h.clock.advance(1);
      assert.equal(h.enforced()?.kind, 'timeout');
      await h.clock.advance(0);
      await h.running;
      assert.equal((await h.store.get(h.jobId))?.error?.kind, 'timeout');
    } finally {
      await h.close();
    }
  });

  test('a deadline earlier than the timeout ends the attempt as deadline when it passes', async () => {
    const h = await harness(defineTask({ name: 'due', timeout: '1h', deadline: '5s', grace: '0ms', retries: 0, run: () => null }), { deadlineMs: 5_000 });
    try {
      await h.clock.advance(4_500);
      assert.equal(h.enforced(), undefined);
      await h.clock.advance(1_000);
      assert.equal(h.enforced()?.kind, 'deadline');
      await h.clock.advance(0);
      await h.running;
    } finally {
      await h.close();
    }
  });

  // Queueing in the executor behind other attempts (a thread attempt while every thread is busy) is not running: an
  // attempt's timeout, heartbeat and silence count from when a thread is given to it or started for it; only the job's
  // deadline runs throughout. Cancel and deadline end a queued attempt exactly as a running one.
  test('an attempt queued 60 s in its executor behind busy threads: its 10 s timeout and 5 s heartbeat start when it gets a thread', async () => {
    const h = await harness(defineTask({ name: 'queued', timeout: '10s', heartbeat: '5s', grace: '0ms', retries: 0, run: () => null }), { queued: true });
    try {
      const t0 = h.clock.now();
      assert.equal(h.sup.state.phase, 'running');
      await h.clock.advance(60_000);
      assert.equal(h.enforced(), undefined, 'no timeout or stall while it queued');
      assert.equal(h.attempt().aborted, null);
      const endsAt = h.attempt().begin();
      assert.equal(endsAt, t0 + 70_000, 'the code must be over 10 s after it started (ctx.exec reads it)');
      await h.clock.advance(4_999);
      assert.equal(h.enforced(), undefined, 'the heartbeat window opened when it got its thread');
      h.attempt().channel.heartbeat(undefined);
      await h.clock.advance(4_999);
      h.attempt().channel.heartbeat(undefined);
      await h.clock.advance(1);
      assert.equal(h.enforced(), undefined, 'not a millisecond before 10 s of running');
      await h.clock.advance(1);
      assert.equal(h.enforced()?.kind, 'timeout');
      await h.running;
      assert.equal(h.attempt().killed, true);
      const [attempt] = await h.store.attempts(h.jobId);
      assert.equal(attempt?.outcome, 'timeout');
      assert.equal(attempt?.hangReport?.elapsedMs, 10_000, 'elapsed since its clocks started');
    } finally {
      await h.close();
    }
  });

  test('the job deadline passes while the attempt queues for a thread: it ends deadline at once, its code never started', async () => {
    const h = await harness(defineTask({ name: 'queuedDue', timeout: '1h', deadline: '5s', grace: '1s', retries: 0, run: () => null }), { deadlineMs: 5_000, queued: true });
    try {
      await h.clock.advance(4_500);
      assert.equal(h.enforced(), undefined);
      await h.clock.advance(1_000);
      assert.equal(h.enforced()?.kind, 'deadline');
      await h.running;
      assert.equal(h.attempt().killed, false, 'the abort ended it: nothing to kill');
      const job = await h.store.get(h.jobId);
      assert.equal(job?.state, 'failed');
      assert.equal(job?.error?.kind, 'deadline');
    } finally {
      await h.close();
    }
  });

  test('cancelled while it queues for a thread: cancelled (not crashed), uncharged, at once', async () => {
    const h = await harness(defineTask({ name: 'queuedCancel', timeout: '1h', grace: '5s', retries: 0, run: () => null }), { queued: true });
    try {
      h.sup.cancel('a sibling failed under the failFast policy');
      await h.clock.advance(0);
      await h.running;
      const job = await h.store.get(h.jobId);
      assert.equal(job?.state, 'cancelled');
      const [attempt] = await h.store.attempts(h.jobId);
      assert.equal(attempt?.outcome, 'cancelled');
    } finally {
      await h.close();
    }
  });

  test('an outcome the store refuses 12 times is retried 100 ms, 200 ms … 5 s apart, then recorded (no give-up after 8)', async () => {
    const calls: number[] = [];
    let clock: ManualClock | null = null;
    const h = await harness(defineTask({ name: 'ok', retries: 0, run: () => null }), {
      wrap: (real) =>
        hooked(real, {
          finishAttempt: async (fence, finish) => {
            calls.push(clock!.now());
            if (calls.length <= 12) throw new StoreUnavailableError('store down (scripted)');
            return real.finishAttempt(fence, finish);
          },
        }),
    });
    clock = h.clock;
    try {
      h.attempt().end({ type: 'returned', value: 42 });
      await h.clock.advance(0);
      await h.clock.advance(60_000);
      await h.running;
      const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
      assert.deepEqual(gaps, [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000]);
      const finished = h.events.find((e) => e.type === 'finished') as Extract<SupervisorEvent, { type: 'finished' }>;
      assert.equal(finished.recorded, true);
      assert.equal(h.events.filter((e) => e.type === 'error').length, 12, 'every failed write is reported');
      assert.equal((await h.store.get(h.jobId))?.result, 42);
    } finally {
      await h.close();
    }
  });

  test('a lost lease ends the retries of an outcome at once, recorded: false with the reason', async () => {
    const h = await harness(defineTask({ name: 'ok2', retries: 0, run: () => null }), {
      wrap: (real) => hooked(real, { finishAttempt: async () => Promise.reject(new StoreUnavailableError('store down (scripted)')) }),
    });
    try {
      h.attempt().end({ type: 'returned', value: 1 });
      await h.clock.advance(1_000);
      assert.equal(h.sup.state.phase, 'recording');
      h.sup.leaseLost();
      await h.clock.advance(0);
      await h.running;
      const finished = h.events.find((e) => e.type === 'finished') as Extract<SupervisorEvent, { type: 'finished' }>;
      assert.equal(finished.recorded, false);
      assert.match(finished.reason ?? '', /lease was lost/);
      assert.equal(h.clock.pending, 0, 'no timer left behind');
    } finally {
      await h.close();
    }
  });

  test('the state tables: every phase is reachable from starting and ends in done; done and released are final', () => {
    const reach = (table: Readonly<Record<string, readonly string[]>>, from: string): Set<string> => {
      const seen = new Set([from]);
      for (const s of seen) for (const n of table[s] ?? []) seen.add(n);
      return seen;
    };
    assert.deepEqual([...reach(ATTEMPT_TRANSITIONS, 'starting')].sort(), Object.keys(ATTEMPT_TRANSITIONS).sort());
    for (const phase of Object.keys(ATTEMPT_TRANSITIONS) as AttemptPhase[]) assert.ok(reach(ATTEMPT_TRANSITIONS, phase).has('done'), `${phase} can end`);
    assert.deepEqual(ATTEMPT_TRANSITIONS.done, []);
    // A claimed attempt starts queued (in the worker's prefetch buffer) and takes a slot when one is granted.
    assert.deepEqual([...reach(SLOT_TRANSITIONS, 'queued')].sort(), Object.keys(SLOT_TRANSITIONS).sort());
    assert.deepEqual(SLOT_TRANSITIONS.released, []);
  });
});

describe('M1: durations past 2^31-1 ms', () => {
  test('longTimeout chains past the setTimeout limit (mocked timers): fires at 2^31+5 ms, not before', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let fired = 0;
      longTimeout(MAX_TIMER_MS + 6, () => fired++);
      mock.timers.tick(MAX_TIMER_MS);
      assert.equal(fired, 0);
      mock.timers.tick(5);
      assert.equal(fired, 0);
      mock.timers.tick(1);
      assert.equal(fired, 1);
    } finally {
      mock.timers.reset();
    }
  });

  test('a real 600 h timer does not fire early (setTimeout would fire after 1 ms), and cancel leaves nothing behind', async () => {
    const before = snapshot();
    let fired = false;
    const timer = longTimeout(600 * HOUR, () => (fired = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fired, false);
    timer.cancel();
    await assertNoLeaks(before, 'a cancelled long timer');
  });

  test("a task with timeout '600h' and heartbeat '600h' runs to success in a real worker", async () => {
    const t = await openTestVigil({ tasks: resolve('test/fixtures/race-tasks.ts') });
    try {
      await startWorker(t.vigil);
      const job = await t.vigil.submit('patient', { ms: 300 });
      const done = await t.vigil.wait(job.id, { timeout: '20s' });
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      assert.equal(done.result, 'patient');
    } finally {
      await t.cleanup();
    }
  });

  test('definition limits: up to 365 days is accepted, beyond is refused with a message naming the option and the limit', () => {
    const run = () => null;
    assert.equal(defineTask({ name: 'y', timeout: '8760h', deadline: '8760h', heartbeat: '8760h', run }).options.timeoutMs, 8_760 * HOUR);
    for (const option of ['timeout', 'deadline', 'heartbeat', 'grace'] as const) {
      assert.throws(
        () => defineTask({ name: 'toolong', [option]: '8761h', run }),
        (err: Error) => err.message.includes(option) && /longest duration Vigil accepts, 8760h/.test(err.message),
        option,
      );
    }
    assert.throws(() => defineTask({ name: 'toolong', retries: { max: 1, backoff: 8_760 * HOUR + 1 }, run }), /retries\.backoff.*longest duration/);
  });
});
