import type { NewJob, ScheduleState, Store } from '../store/contract.js';
import type { TaskMap } from '../task/registry.js';
import { scheduleSpec, type ScheduleDefinition } from './define.js';
import { decideTicks, nextTick } from './ticks.js';

export interface TickerOptions {
  store: Store;
  schedules: ScheduleDefinition[];
  tasks: TaskMap;
  /** The store's clock by default; tests inject their own. */
  clock?: () => Promise<number>;
  /** Longest sleep between checks (a tick of another worker's schedule definition may change). Default 5 s. */
  maxSleepMs?: number;
  onError?: (message: string, error: unknown) => void;
}

/**
 * Enqueues each schedule's ticks. Every worker runs one; no leader is elected: each computes the same decision
 * from the stored last tick, and the store's compare-and-set (fireSchedule) lets exactly one apply it, in the same
 * transaction as the jobs. A worker killed anywhere in between changes nothing: the transaction committed or not.
 */
export class ScheduleTicker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private synced = false;
  private readonly byName: Map<string, ScheduleDefinition>;

  constructor(private readonly options: TickerOptions) {
    this.byName = new Map(options.schedules.map((s) => [s.name, s]));
  }

  start(): void {
    if (this.options.schedules.length === 0) return;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over every schedule; returns the store time of the earliest next tick. Public for tests. */
  async tick(): Promise<number | null> {
    const { store } = this.options;
    const now = await this.now();
    let states = await store.listSchedules();
    // Registering is a write: done on the first pass and when a schedule is missing (a store pruned by hand), not
    // on every tick.
    if (!this.synced || this.options.schedules.some((s) => !states.some((st) => st.name === s.name))) {
      states = await store.syncSchedules(
        this.options.schedules.map((s) => ({ name: s.name, task: s.task, spec: scheduleSpec(s), lastTickAt: now, nextTickAt: nextTick(s, now) })),
      );
      this.synced = true;
    }
    let earliest: number | null = null;
    for (const state of states) {
      const def = this.byName.get(state.name);
      if (!def) continue; // another worker's schedule: it ticks it
      const next = await this.fire(def, state, now);
      if (next !== null && (earliest === null || next < earliest)) earliest = next;
    }
    return earliest;
  }

  private async fire(def: ScheduleDefinition, state: ScheduleState, now: number): Promise<number | null> {
    const decision = decideTicks(def, state.lastTickAt, now);
    if (decision.lastTickAt === state.lastTickAt) return decision.nextTickAt;
    const task = this.options.tasks.get(def.task)!;
    const jobs: NewJob[] = decision.fire.map((tick) => ({
      task: def.task,
      input: def.input,
      retry: task.options.retry,
      deadlineMs: task.options.deadlineMs,
      idempotencyKey: `schedule:${def.name}:${tick}`,
    }));
    // fired: false means another worker handled these ticks first: nothing to do.
    await this.options.store.fireSchedule({ name: def.name, expectedLastTickAt: state.lastTickAt, lastTickAt: decision.lastTickAt, nextTickAt: decision.nextTickAt, jobs });
    return decision.nextTickAt;
  }

  private now(): Promise<number> {
    return this.options.clock ? this.options.clock() : this.options.store.now();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.loop();
    }, ms);
    this.timer.unref?.();
  }

  private async loop(): Promise<void> {
    const maxSleep = this.options.maxSleepMs ?? 5_000;
    let sleep = maxSleep;
    try {
      const next = await this.tick();
      if (next !== null) sleep = Math.min(maxSleep, Math.max(20, next - (await this.now()) + 5));
    } catch (err) {
      this.options.onError?.('schedule tick failed; retrying', err);
      sleep = 1_000;
    }
    this.schedule(sleep);
  }
}
