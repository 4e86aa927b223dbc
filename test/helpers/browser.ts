// Debian's Chromium driven by playwright-core (no browser download). Tests skip LOUDLY when none is found;
// .ci/run installs one so CI always runs them.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export function chromiumPath(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  for (const p of candidates) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu'];

export function skipReason(): string | false {
  if (chromiumPath()) return false;
  const reason = 'no Chromium found (set CHROMIUM_PATH or apt-get install -y chromium)';
  console.log(`\n${'*'.repeat(100)}\n*** BROWSER TESTS SKIPPED: ${reason} ***\n${'*'.repeat(100)}\n`);
  return reason;
}
