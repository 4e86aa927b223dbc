// The verdicts of `vigil doctor` as a pure function of one store snapshot: the edges a live test cannot time
// reliably (exactly at a lease boundary, within a recovery interval, older workers without a task list).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { OpsSnapshot, WorkerRecord } from '../src/store/contract.js';
import { evaluate } from '../src/ops/doctor/checks.js';

const NOW = 1_000_000;
const opts = { graceMs: 10_000, windowMs: 3_600_000, expectedSchemaVersion: 4 };

function worker(id: string, silentMs: number, tasks: string[], leaseMs: number | null = 3_000): WorkerRecord {
  return { workerId: id, hostname: 'h', pid: 1, concurrency: 2, startedAt: 0, lastSeenAt: NOW - silentMs, stats: null, leaseMs, reportEveryMs: leaseMs === null ? null : 1_000, tasks };
}
function snapshot(over: Partial<OpsSnapshot>): OpsSnapshot {
  return { now: NOW, schemaVersion: 4, workers: [], queues: [], expiredLeases: [], pastDeadline: [], settledParents: [], hangs: [], freezes: [], ...over };
}
const status = (s: OpsSnapshot, id: string): string => evaluate(s, opts).checks.find((c) => c.id === id)!.status;

test('a worker is lost exactly when silent past its lease plus the margin (3 s lease: 4 s)', () => {
  assert.equal(evaluate(snapshot({ workers: [worker('a', 4_000, ['t'])] }), opts).workers[0]!.state, 'live');
  assert.equal(evaluate(snapshot({ workers: [worker('a', 4_001, ['t'])] }), opts).workers[0]!.state, 'lost');
  // Without a recorded lease (an older worker): the old 30 s default, never "probably".
  assert.equal(evaluate(snapshot({ workers: [worker('b', 20_000, ['t'], null)] }), opts).workers[0]!.state, 'live');
  assert.equal(evaluate(snapshot({ workers: [worker('b', 40_000, ['t'], null)] }), opts).workers[0]!.state, 'lost');
});

test('a lost worker needs a human only when a task of its has no live worker', () => {
  assert.equal(status(snapshot({ workers: [worker('dead', 60_000, ['a', 'b']), worker('live', 0, ['a'])] }), 'workers'), 'fail');
  assert.equal(status(snapshot({ workers: [worker('dead', 60_000, ['a', 'b']), worker('live', 0, ['a', 'b'])] }), 'workers'), 'warn');
});

test('expired leases: fail with no live worker; warn within the recovery interval; fail past it', () => {
  const lease = (ago: number) => [{ id: '1', task: 't', leaseOwner: 'dead', leaseExpiresAt: NOW - ago }];
  const dead = worker('dead', 60_000, ['t']);
  assert.equal(status(snapshot({ workers: [dead], expiredLeases: lease(100) }), 'expired-leases'), 'fail');
  const live = worker('live', 0, ['t']); // 3 s lease: recovers every 1.5 s; + 10 s grace
  assert.equal(status(snapshot({ workers: [dead, live], expiredLeases: lease(11_000) }), 'expired-leases'), 'warn');
  assert.equal(status(snapshot({ workers: [dead, live], expiredLeases: lease(12_000) }), 'expired-leases'), 'fail');
});

test('unserved tasks: fail; a warning while a live older worker (no task list) might serve them', () => {
  const queues = [{ task: 'x', queued: 2, runnable: 2, running: 0, oldestRunnableAt: NOW - 1_000 }];
  assert.equal(status(snapshot({ workers: [worker('live', 0, ['y'])], queues }), 'unserved-tasks'), 'fail');
  assert.equal(status(snapshot({ workers: [worker('old', 0, [], null)], queues }), 'unserved-tasks'), 'warn');
  assert.equal(status(snapshot({ workers: [worker('live', 0, ['x'])], queues }), 'unserved-tasks'), 'ok');
});

test('a settled parent is a finding only past the grace and without a heartbeat since its last child ended', () => {
  const parent = (endedAgo: number, heartbeatAgo: number | null) => [
    { id: '9', task: 'p', children: 3, lastChildFinishedAt: NOW - endedAgo, lastHeartbeatAt: heartbeatAgo === null ? null : NOW - heartbeatAgo },
  ];
  assert.equal(status(snapshot({ settledParents: parent(5_000, null) }), 'settled-parents'), 'ok');
  assert.equal(status(snapshot({ settledParents: parent(15_000, null) }), 'settled-parents'), 'fail');
  assert.equal(status(snapshot({ settledParents: parent(15_000, 1_000) }), 'settled-parents'), 'ok', 'it heartbeats: it is working');
});
