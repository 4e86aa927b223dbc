import { InvalidArgumentError, type Command } from 'commander';
import { storeUrlFromEnv } from '../store/open.js';
import { DURATION_FORMS, parseDuration } from '../task/duration.js';
import { Vigil } from '../vigil.js';

/** Options every store-backed command shares. */
export interface StoreOptions {
  store?: string;
}

export function storeOption(cmd: Command): Command {
  return cmd.option('--store <url>', 'store URL: sqlite:PATH or postgres://… (default: $VIGIL_STORE, else sqlite:./vigil.db)');
}

export function jsonOption(cmd: Command, what = 'the result'): Command {
  return cmd.option('--json', `print ${what} as JSON`);
}

/** "Example:" block under a command's help, so every --help shows one real invocation. */
export function example(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/**
 * Opens the API on the store named by --store / $VIGIL_STORE / the default. The tasks module (when given) is
 * loaded first, by Vigil.open, so a module that fails to import never touches the store.
 */
export function openVigil(opts: StoreOptions, tasks?: string, open: { create?: boolean } = {}): Promise<Vigil> {
  return Vigil.open({ store: storeUrlFromEnv(opts.store), tasks, create: open.create });
}

export async function withVigil<T>(opts: StoreOptions, fn: (vigil: Vigil) => Promise<T>, tasks?: string): Promise<T> {
  const vigil = await openVigil(opts, tasks);
  try {
    return await fn(vigil);
  } finally {
    await vigil.close();
  }
}

/** For commands that only read (or act on existing jobs): a typo in --store must not create an empty store. */
export async function withExistingStore<T>(opts: StoreOptions, fn: (vigil: Vigil) => Promise<T>): Promise<T> {
  const vigil = await openVigil(opts, undefined, { create: false });
  try {
    return await fn(vigil);
  } finally {
    await vigil.close();
  }
}

/** Commander argument parser for integers in a range (commander turns the throw into a usage error). */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` from ${min} to ${max}`}.`);
    }
    return n;
  };
}

/** Commander argument parser for durations ("250ms", "30s", "5m", "1h" or milliseconds), at least `minMs`. */
export function durationArg(minMs = 0): (value: string) => number {
  return (value) => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch {
      throw new InvalidArgumentError(`must be a duration: ${DURATION_FORMS}.`);
    }
    if (ms < minMs) throw new InvalidArgumentError(`must be at least ${minMs} ms.`);
    return ms;
  };
}

/** Resolves once one of the signals arrives; `off()` removes the listeners. */
export function onSignals(signals: NodeJS.Signals[], handler: (signal: NodeJS.Signals, count: number) => void): () => void {
  let count = 0;
  const listener = (signal: NodeJS.Signals): void => handler(signal, ++count);
  for (const s of signals) process.on(s, listener);
  return () => {
    for (const s of signals) process.off(s, listener);
  };
}

/** `unref`: a bound in a race must not itself keep the process alive after the race is decided. */
export function sleep(ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    if (options.unref) t.unref();
  });
}
