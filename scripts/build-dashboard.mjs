// Bundles the dashboard (src/dashboard, Preact + TypeScript) into dist/dashboard: one JS file, one CSS file and the
// page. Run by `npm run build`; the server serves these files and nothing from a CDN, so it works offline.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/dashboard`;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${root}src/dashboard/main.tsx`],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: `${out}/app.js`,
  logLevel: 'warning',
  legalComments: 'none',
});
copyFileSync(`${root}src/dashboard/app.css`, `${out}/app.css`);
copyFileSync(`${root}src/dashboard/index.html`, `${out}/index.html`);
