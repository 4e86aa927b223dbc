// Runs the whole suite with node's built-in runner (its summary lines are what CI reads).
// Test files run from source through tsx; executors spawned by the tests load tsx themselves.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = only.length
  ? only
  : readdirSync('test')
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join('test', f));
// The CLI tests run the built CLI (what users run) and a plain-JS fixture imports the package itself: build first.
const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
if (!process.env.VIGIL_TEST_PG_URL) {
  console.log('\n*** VIGIL_TEST_PG_URL is not set: the PostgreSQL tests will be SKIPPED. ***\n');
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
