// The CLI reference is generated from the --help texts; a stale copy fails here (regenerate: node scripts/gen-docs.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
// @ts-expect-error: a plain .mjs script without types
import { cliReference } from '../scripts/gen-docs.mjs';

test('docs/cli.md matches the CLI help texts', () => {
  assert.equal(readFileSync('docs/cli.md', 'utf8'), (cliReference as () => string)(), 'run: npm run build && node scripts/gen-docs.mjs');
});
