import { Worker } from 'node:worker_threads';
import type { HangReport } from '../types.js';
import { serializeError } from '../task/serialize.js';
import { DIRECT_END_FD, DIRECT_IN_ENV, EndMarkerScanner, KEY_AT, KEY_LENGTH, KEY_MAX_UNITS, Outbox, phaseOf, seqOf, SHARED_BYTES, SLOT_DIRECT, SLOT_IDLE, SLOT_RUNNING, SLOT_STATE, SLOT_VIA_HOST, slotWord, type DiagnoseReply, type HostInbound, type HostOutbound, type RunnerInbound, type RunnerOutbound, type ThreadHello, type ThreadWarmed } from './ipc.js';
import { killDescendants, killGroup, signalPid } from './kill.js';
import { ThreadChildren } from './proctree.js';
import { LineSplitter, textLines } from './line-splitter.js';
import { workerEntry } from './node-entry.js';
import type { AttemptEnd, AttemptSpec } from './types.js';

/**
 * Entry of an executor host process: a pool of task threads, driven by the supervisor over IPC. Threads live here,
 * never in the supervisor, because a thread blocked in a syscall can not be terminated: the supervisor then SIGKILLs
 * this whole process (DESIGN G1).
 *
 * argv: [threadsPerHost, direct] — `direct`: the supervisor reads quiet attempts' ends on DIRECT_END_FD (ipc.ts).
 */

const threadsPerHost = Math.max(1, Number(process.argv[2]) || 4);
const directFd = process.argv[3] === 'direct' ? DIRECT_END_FD : null;
/** The supervisor's DirectIn server ("path token", ipc.ts): out of the environment before any task can read it. */
const directIn = ((): { path: string; token: string } | null => {
  const value = process.env[DIRECT_IN_ENV];
  delete process.env[DIRECT_IN_ENV];
  const at = value?.lastIndexOf(' ') ?? -1;
  // An abstract socket's name: its leading NUL can not travel in an environment variable.
  return value && at > 0 ? { path: `\0${value.slice(0, at)}`, token: value.slice(at + 1) } : null;
})();
/** How long an ended attempt waits for its console output markers before it is reported anyway. */
const MARKER_WAIT_MS = 500;
/**
 * A thread started by `grow` is reported ready once it loaded the tasks module, or after this long anyway: a module
 * whose import never settles must not keep attempts waiting for a thread forever (the attempt then waits inside the
 * thread, under its timeout, as it did before threads were warmed).
 */
const WARM_BOUND_MS = 5_000;

interface Slot {
  /** This host's id of the thread (the supervisor names threads by it). */
  id: number;
  /** The sequence number of the last attempt the host knows of on this thread (see SLOT_STATE). */
  seq: number;
  keys: Uint16Array;
  worker: Worker;
  memoryMb: number | null;
  /** False while a thread started by `grow` warms up (not given attempts, not retired); its bound timer meanwhile. */
  ready: boolean;
  warmTimer: NodeJS.Timeout | null;
  /** When the thread was given its attempt (performance.now()): `end` says how long the attempt held it. */
  runAt: number;
  /** The attempt running on this thread, null when idle. */
  key: string | null;
  /** The last attempt, when it ended directly (its end is on the other pipe): `thread-gone` names it (`after`). */
  directKey: string | null;
  /**
   * End markers the thread wrote on [stdout, stderr] (shared with it; see END_MARKER), then the SLOT_STATE word (who
   * reports the running attempt's end: see DIRECT_END_FD); and markers seen on each stream.
   */
  written: Int32Array;
  marks: { stdout: number; stderr: number };
  heldEnd: { end: AttemptEnd; timer: NodeJS.Timeout } | null;
  killRequested: boolean;
  error: unknown;
  exited: boolean;
  execPids: Set<number>;
  /** The programs the thread started, found by its OS thread id (Linux) once it said so. */
  children: ThreadChildren | null;
  out: EndMarkerScanner;
  err: EndMarkerScanner;
}

const slots = new Set<Slot>();
const byId = new Map<number, Slot>();
const byKey = new Map<string, Slot>();
let nextSlotId = 1;
/** Threads created in this host's life (the supervisor reads it through `ready`; tests count cold starts with it). */
let created = 0;

const outbox = new Outbox<HostOutbound>((batch) => {
  if (process.connected) process.send!(batch);
});

function send(message: HostOutbound): void {
  outbox.push(message);
}

process.on('error', () => {
  // IPC errors after the supervisor went away: the 'disconnect' handler ends this process.
});

process.on('disconnect', () => {
  // The supervisor is gone: nothing may outlive it. process.exit() can hang behind a thread blocked in a syscall,
  // so the host kills its own process after the programs its tasks started.
  for (const slot of slots) killSpawned(slot);
  // Whatever else left the group (started from this host's own thread) while this process is still its parent.
  killDescendants();
  // The host leads its own group (host-process.ts): programs started with plain child_process die with it.
  killGroup(process.pid);
  process.kill(process.pid, 'SIGKILL');
});

process.on('message', (batch: HostInbound[]) => {
  for (const message of batch) receive(message);
});

function receive(message: HostInbound): void {
  switch (message.type) {
    case 'start':
      try {
        start(message.spec, message.slot);
      } catch (err) {
        // A thread that can not be created fails this attempt, not every attempt of the host.
        byKey.delete(message.spec.key);
        send({ type: 'end', key: message.spec.key, end: { type: 'threw', error: serializeError(err) }, reusable: false, ranMs: 0, slot: message.slot });
      }
      return;
    case 'grow':
      grow(message.memoryMb, message.tasksModule, message.retire);
      return;
    case 'abort': {
      const slot = slotOf(message.key, message.slot);
      if (slot && !slot.exited) slot.worker.postMessage({ type: 'abort', key: message.key, reason: message.reason } satisfies RunnerInbound);
      return;
    }
    case 'reply': {
      const slot = slotOf(message.key);
      if (slot && !slot.exited) slot.worker.postMessage(message satisfies RunnerInbound);
      return;
    }
    case 'kill': {
      // An attempt sent to the thread directly that it has not read yet is claimed here, so it never starts.
      const slot = slotOf(message.key, message.slot) ?? claimUnread(message.key, message.slot, message.seq);
      if (!slot || slot.exited) return;
      // Its end must come through here now (it is `killed`, or ended as the kill raced with it; the thread goes).
      if (!claimEnd(slot, message.key)) return;
      slot.killRequested = true;
      // Before the thread goes: its programs are found through it (execSync even keeps it from terminating).
      killSpawned(slot);
      void slot.worker.terminate();
      return;
    }
    case 'capture':
      void capture(message.key, message.slot, message.budgetMs).then((where) => send({ type: 'captured', id: message.id, where }));
      return;
  }
}

/**
 * The slot running attempt `key` (on thread `id`, when the supervisor said), after the bookkeeping of what its thread
 * did on its own (sync): undefined when the attempt has ended, or has not been read by its thread yet.
 */
function slotOf(key: string, id?: number): Slot | undefined {
  const named = id === undefined ? undefined : byId.get(id);
  if (named) sync(named);
  const slot = byKey.get(key);
  if (slot) sync(slot);
  return byKey.get(key);
}

/**
 * Catches up with what the thread did without telling the host (ipc.ts SLOT_STATE): an attempt it started from its
 * DIRECT_IN socket is taken on (the one before it, if the host knew of it, ended directly), and an attempt it ended
 * directly (SLOT_DIRECT, its end already on its way to the supervisor) leaves the thread idle — the host's part of
 * `finish` without the report. Runs wherever the host looks at a slot's attempt.
 */
function sync(slot: Slot): void {
  let word = Atomics.load(slot.written, SLOT_STATE);
  if (seqOf(word) !== slot.seq) {
    if (slot.key !== null) endedDirectly(slot);
    // Seqlock read: the thread writes the next attempt's key (in the other half) only after this one ended.
    for (;;) {
      const key = readKey(slot, seqOf(word));
      const again = Atomics.load(slot.written, SLOT_STATE);
      if (seqOf(again) === seqOf(word)) {
        word = again;
        takeOn(slot, key, seqOf(word));
        break;
      }
      word = again;
    }
  }
  if (slot.key === null || phaseOf(word) !== SLOT_DIRECT) return;
  endedDirectly(slot);
  // Not expected (start() sets SLOT_VIA_HOST when the pool is over size), but a thread retired here is reported gone.
  if (!slot.exited && slots.size > threadsPerHost) {
    retire(slot);
    send({ type: 'thread-gone', memoryMb: slot.memoryMb, after: slot.directKey!, slot: slot.id });
  }
}

/** The host's record that `slot` runs attempt `key`, its `seq`th (however it got there: start, sync, claimUnread). */
function takeOn(slot: Slot, key: string, seq: number): void {
  slot.seq = seq;
  slot.key = key;
  slot.directKey = null;
  slot.runAt = performance.now();
  byKey.set(key, slot);
}

function endedDirectly(slot: Slot): void {
  slot.out.flush();
  slot.err.flush();
  byKey.delete(slot.key!);
  slot.directKey = slot.key;
  slot.key = null;
  slot.execPids.clear();
}

/** The key the thread published for its attempt `seq` (two halves, by parity: see ipc.ts KEY_AT). */
function readKey(slot: Slot, seq: number): string {
  const half = seq & 1;
  const length = Math.min(KEY_MAX_UNITS, Atomics.load(slot.written, KEY_LENGTH + half));
  return String.fromCharCode(...slot.keys.subarray(half * KEY_MAX_UNITS, half * KEY_MAX_UNITS + length));
}

/**
 * Makes sure the end of attempt `key`, running on `slot`, comes through the host (RUNNING → VIA_HOST, at its own
 * seq: the thread may be on its next attempt already); false when the thread has already ended it directly (the slot
 * is then synced).
 */
function claimEnd(slot: Slot, key: string): boolean {
  sync(slot);
  if (slot.key !== key) return false;
  const word = Atomics.load(slot.written, SLOT_STATE);
  if (seqOf(word) === slot.seq) {
    if (phaseOf(word) === SLOT_VIA_HOST) return true;
    if (phaseOf(word) === SLOT_RUNNING && Atomics.compareExchange(slot.written, SLOT_STATE, word, slotWord(slot.seq, SLOT_VIA_HOST)) === word) return true;
  }
  sync(slot);
  return false;
}

/**
 * A kill of attempt `seq` on thread `id`, sent to it directly, that the thread has not started: the host takes the
 * attempt (idle at seq - 1 → seq, VIA_HOST), so the thread drops it when it reads it and the host reports it
 * `killed`. Undefined when the thread has started it (found by slotOf then, or already ended directly: the kill came
 * late) or is not there.
 */
function claimUnread(key: string, id: number, seq: number): Slot | undefined {
  const slot = byId.get(id);
  if (!slot || slot.exited) return undefined;
  sync(slot);
  if (slot.key !== null) return byKey.get(key);
  const word = Atomics.load(slot.written, SLOT_STATE);
  const phase = phaseOf(word);
  if (seqOf(word) !== seq - 1) return undefined;
  if ((phase === SLOT_IDLE || phase === SLOT_DIRECT) && Atomics.compareExchange(slot.written, SLOT_STATE, word, slotWord(seq, SLOT_VIA_HOST)) === word) {
    takeOn(slot, key, seq);
    return slot;
  }
  return slotOf(key, id);
}

function start(spec: AttemptSpec, id: number): void {
  let slot = byId.get(id);
  if (slot) sync(slot);
  if (!slot || slot.key !== null || !slot.ready || slot.exited || slot.killRequested || slot.memoryMb !== spec.memoryMb) {
    // The supervisor sends an attempt only to an idle thread it knows of; this is the rare race where that thread
    // went away meanwhile (its `thread-gone` is on its way): the attempt gets a new thread, as before warming. The
    // pool may be one over its size until that thread's attempt ends (it is retired then): an idle thread retired
    // here could be one the supervisor is sending an attempt to directly.
    slot = createSlot(spec.memoryMb, true);
  }
  takeOn(slot, spec.key, slot.seq + 1);
  // Its end may come directly, unless the thread is to be retired after it (a pool over size must hear of it).
  Atomics.store(slot.written, SLOT_STATE, slotWord(slot.seq, slots.size > threadsPerHost ? SLOT_VIA_HOST : SLOT_RUNNING));
  slot.worker.postMessage({ type: 'run', spec } satisfies RunnerInbound);
}

/**
 * A thread without an attempt, asked for by the supervisor (thread-executor.ts): it loads the tasks module, then is
 * reported `ready`. `retire`: the memory limit of an idle thread to stop first (the pool stays at threadsPerHost).
 */
function grow(memoryMb: number | null, tasksModule: string | null, retireId: number | undefined): void {
  const old = retireId === undefined ? undefined : byId.get(retireId);
  if (old) {
    sync(old);
    if (old.key === null && !old.exited) retire(old);
  }
  let slot: Slot;
  try {
    slot = createSlot(memoryMb, false);
  } catch (err) {
    send({ type: 'ready', memoryMb, end: { type: 'threw', error: serializeError(err) }, threads: slots.size, created, slot: -1 });
    return;
  }
  slot.warmTimer = setTimeout(() => becomeReady(slot), WARM_BOUND_MS);
  if (tasksModule !== null) slot.worker.postMessage({ type: 'warm', tasksModule } satisfies RunnerInbound);
  else becomeReady(slot);
}

function becomeReady(slot: Slot): void {
  if (slot.ready || slot.exited) return;
  slot.ready = true;
  if (slot.warmTimer) clearTimeout(slot.warmTimer);
  slot.warmTimer = null;
  send({ type: 'ready', memoryMb: slot.memoryMb, threads: slots.size, created, slot: slot.id });
}

function retire(slot: Slot): void {
  slots.delete(slot);
  byId.delete(slot.id);
  slot.exited = true;
  void slot.worker.terminate();
}

function createSlot(memoryMb: number | null, ready: boolean): Slot {
  const entry = workerEntry('thread-entry');
  const shared = new SharedArrayBuffer(SHARED_BYTES);
  const written = new Int32Array(shared);
  const id = nextSlotId++;
  const worker = new Worker(entry.filename, {
    eval: entry.eval,
    workerData: { markers: shared, directFd, directIn: directIn && { ...directIn, slot: id } },
    stdout: true,
    stderr: true,
    resourceLimits: memoryMb ? { maxOldGenerationSizeMb: memoryMb } : undefined,
  });
  created += 1;
  const slot: Slot = {
    id,
    seq: 0,
    keys: new Uint16Array(shared, KEY_AT, 2 * KEY_MAX_UNITS),
    worker,
    memoryMb,
    ready,
    warmTimer: null,
    runAt: 0,
    key: null,
    directKey: null,
    written,
    marks: { stdout: 0, stderr: 0 },
    heldEnd: null,
    killRequested: false,
    error: undefined,
    exited: false,
    execPids: new Set(),
    children: null,
    out: new EndMarkerScanner(new LineSplitter(textLines((line) => output(slot, 'stdout', line))), () => marker(slot, 'stdout')),
    err: new EndMarkerScanner(new LineSplitter(textLines((line) => output(slot, 'stderr', line))), () => marker(slot, 'stderr')),
  };
  slots.add(slot);
  byId.set(id, slot);
  worker.stdout.on('data', (chunk: Buffer) => slot.out.write(chunk));
  worker.stderr.on('data', (chunk: Buffer) => slot.err.write(chunk));
  worker.on('message', (message: RunnerOutbound | ThreadHello | ThreadWarmed) => {
    if (message.type === 'warmed') becomeReady(slot);
    else if (message.type !== 'os-thread') fromThread(slot, message);
    else if (message.tid !== null && !slot.exited) slot.children = new ThreadChildren(message.tid);
  });
  worker.on('error', (err) => {
    slot.error = err;
  });
  worker.on('exit', (code) => threadExited(slot, code));
  return slot;
}

function output(slot: Slot, stream: 'stdout' | 'stderr', line: string): void {
  sync(slot);
  // Output between attempts (a timer left behind by an earlier attempt) belongs to no attempt.
  if (slot.key === null) return;
  send({ type: 'log', key: slot.key, stream, line, ts: Date.now() });
  send({ type: 'activity', key: slot.key });
}

function marker(slot: Slot, stream: 'stdout' | 'stderr'): void {
  slot.marks[stream] += 1;
  if (slot.heldEnd && allMarked(slot)) releaseEnd(slot);
}

/** Every marker the thread wrote (it counts them before it posts `end`) has come through its stream. */
function allMarked(slot: Slot): boolean {
  return slot.marks.stdout >= Atomics.load(slot.written, 0) && slot.marks.stderr >= Atomics.load(slot.written, 1);
}

function fromThread(slot: Slot, message: RunnerOutbound): void {
  if (message.type === 'diagnosis') {
    diagnoses.get(message.id)?.(message);
    return;
  }
  sync(slot);
  if (message.key !== slot.key) return;
  switch (message.type) {
    case 'exec-started':
      slot.execPids.add(message.pid);
      break;
    case 'exec-ended':
      slot.execPids.delete(message.pid);
      break;
    case 'end':
      if (allMarked(slot)) {
        finish(slot, message.end);
      } else {
        slot.heldEnd = { end: message.end, timer: setTimeout(() => releaseEnd(slot), MARKER_WAIT_MS) };
      }
      return;
  }
  send(message);
}

function releaseEnd(slot: Slot): void {
  const held = slot.heldEnd;
  if (!held) return;
  clearTimeout(held.timer);
  slot.heldEnd = null;
  finish(slot, held.end);
}

/** Reports the attempt's end and makes the thread idle again (or retires it when the pool is over size). */
function finish(slot: Slot, end: AttemptEnd): void {
  const key = slot.key;
  if (key === null) return;
  // Programs the task started and left running die with the attempt, as they do in every isolation (DESIGN G1).
  killSpawned(slot);
  slot.out.flush();
  slot.err.flush();
  slot.key = null;
  slot.execPids.clear();
  byKey.delete(key);
  // The thread may be sent its next attempt directly once the supervisor has this end.
  Atomics.store(slot.written, SLOT_STATE, slotWord(slot.seq, SLOT_IDLE));
  if (!slot.exited && slots.size > threadsPerHost) retire(slot);
  // A thread asked to die (kill) is not offered again, even if the attempt ended before the terminate did.
  send({ type: 'end', key, end, reusable: !slot.exited && !slot.killRequested && slots.has(slot), ranMs: performance.now() - slot.runAt, slot: slot.id });
}

function threadExited(slot: Slot, code: number): void {
  sync(slot);
  // Retired threads were already taken out of the pool (and accounted for) by whoever retired them.
  const pooled = slots.delete(slot);
  byId.delete(slot.id);
  slot.exited = true;
  slot.children?.close();
  if (slot.warmTimer) clearTimeout(slot.warmTimer);
  slot.warmTimer = null;
  if (slot.key === null) {
    if (!pooled) return;
    // A thread that died warming up fails the attempt waiting for it with what killed it (a memory limit too small
    // to load the module, a module that calls process.exit): starting another one would fail the same way.
    if (!slot.ready) send({ type: 'ready', memoryMb: slot.memoryMb, end: endOfDeadThread(slot, code), threads: slots.size, created, slot: slot.id });
    else send(slot.directKey === null ? { type: 'thread-gone', memoryMb: slot.memoryMb, slot: slot.id } : { type: 'thread-gone', memoryMb: slot.memoryMb, after: slot.directKey, slot: slot.id });
    return;
  }
  for (const pid of slot.execPids) killGroup(pid);
  if (slot.heldEnd) {
    // The task had already ended; its result stands even if a kill raced with it.
    releaseEnd(slot);
    return;
  }
  finish(slot, endOfDeadThread(slot, code));
}

function endOfDeadThread(slot: Slot, code: number): AttemptEnd {
  if (slot.killRequested) return { type: 'killed' };
  const err = slot.error as (Error & { code?: unknown }) | undefined;
  if (err && err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { type: 'oom', message: `the task used more than its memory limit (memoryMb: ${slot.memoryMb}) and its thread was stopped` };
  }
  if (err !== undefined) return { type: 'threw', error: serializeError(err) };
  return { type: 'died', message: `the task's thread exited with code ${code} before the task finished (process.exit() in a task ends its thread)`, collateral: false };
}

async function capture(key: string, id: number, budgetMs: number): Promise<HangReport['where']> {
  const started = performance.now();
  const slot = slotOf(key, id);
  if (!slot || slot.exited) return { notes: [`no running thread for attempt ${key}`] };
  let where: HangReport['where'];
  try {
    // Loaded on the first capture: the inspector machinery costs every host's start otherwise.
    const mod = await import('../forensics/thread-stack.js');
    where = await mod.captureThreadStack(slot.worker, Math.max(0, budgetMs - DIAGNOSE_RESERVE_MS));
  } catch (err) {
    where = { notes: [`thread stack capture failed: ${err instanceof Error ? err.message : String(err)}`] };
  }
  // An idle thread whose resources the inspector did not list: its event loop is free, so the runner can answer.
  const idle = where.stack !== undefined && where.stack.length === 0;
  if (!where.pendingResources && (idle || where.stack === undefined) && where.processes === undefined && !slot.exited) {
    const left = budgetMs - (performance.now() - started);
    const answer = await diagnose(slot, Math.min(DIAGNOSE_WAIT_MS, Math.max(0, left)));
    if (answer && !answer.error) {
      where.pendingResources = answer.resources;
      where.notes.push('pending resources listed by the task thread itself (the inspector did not list them)');
    } else {
      where.notes.push(answer?.error ?? 'the task thread did not list its pending resources in time either');
    }
  }
  return where;
}

/** Kept back from the capture budget for the runner's own answer. */
const DIAGNOSE_RESERVE_MS = 150;
const DIAGNOSE_WAIT_MS = 120;
let nextDiagnosis = 1;
const diagnoses = new Map<number, (reply: DiagnoseReply) => void>();

/** Asks the thread's runner for its pending resources ({type:'diagnose'}); null when it does not answer in `ms`. */
function diagnose(slot: Slot, ms: number): Promise<DiagnoseReply | null> {
  const id = nextDiagnosis++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      diagnoses.delete(id);
      resolve(null);
    }, ms);
    diagnoses.set(id, (reply) => {
      clearTimeout(timer);
      diagnoses.delete(id);
      resolve(reply);
    });
    slot.worker.postMessage({ type: 'diagnose', id } satisfies RunnerInbound);
  });
}

/** SIGKILL to the ctx.exec groups and to every process the slot's thread started, with their descendants. */
function killSpawned(slot: Slot): void {
  for (const pid of slot.execPids) killGroup(pid);
  if (!slot.children || slot.exited) return;
  for (const stat of slot.children.descendants()) signalPid(stat.pid, 'SIGKILL');
}
