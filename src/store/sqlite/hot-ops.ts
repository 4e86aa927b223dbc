import type { ActivityUpdate, AttemptFinish, ClaimRequest, Fence, NewLogLine, StoreEvent } from '../contract.js';
import * as attempts from './attempts.js';
import * as claim from './claim.js';
import type { Db } from './connection.js';
import type { OpResult } from './jobs.js';
import * as logs from './logs.js';

/**
 * The worker's hot-path writes as data, not closures: a batch of them can then be written by the store's own
 * connection or handed to the writer thread (writer-thread.ts) in one message, and both run this same code.
 */
export type HotOp =
  | { op: 'claim'; request: ClaimRequest }
  | { op: 'renew'; workerId: string; fences: Fence[]; leaseMs: number; held: Fence[] }
  | { op: 'activity'; updates: ActivityUpdate[] }
  | { op: 'logs'; lines: NewLogLine[] }
  | { op: 'finish'; fence: Fence; finish: AttemptFinish };

function runOne(db: Db, o: HotOp, now: number): OpResult<unknown> {
  switch (o.op) {
    case 'claim':
      return claim.claim(db, o.request, now);
    case 'renew':
      return { value: claim.renewLeases(db, o.workerId, o.fences, o.leaseMs, now, o.held), events: [] };
    case 'activity':
      return { value: attempts.recordActivity(db, o.updates, now), events: [] };
    case 'logs':
      return { value: logs.appendLogs(db, o.lines, now), events: [] };
    case 'finish':
      return attempts.finishAttempt(db, o.fence, o.finish, now);
  }
}

/** Runs a batch in order; the caller wraps it in one BEGIN IMMEDIATE transaction. */
export function runHotOps(db: Db, ops: HotOp[], now: number): OpResult<unknown[]> {
  const value: unknown[] = [];
  const events: StoreEvent[] = [];
  for (const o of ops) {
    const r = runOne(db, o, now);
    value.push(r.value);
    for (const e of r.events) events.push(e);
  }
  return { value, events };
}
