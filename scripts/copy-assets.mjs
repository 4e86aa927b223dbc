// tsc compiles TypeScript only: copy the SQL migrations (and dashboard assets) next to the compiled code.
import { cpSync, existsSync, rmSync } from 'node:fs';
for (const dir of ['src/store/migrations', 'src/dashboard/public']) {
  if (!existsSync(dir)) continue;
  // A copy, not a merge: a migration removed from the source must not linger in dist (the runner rejects gaps).
  rmSync(`dist/${dir}`, { recursive: true, force: true });
  cpSync(dir, `dist/${dir}`, { recursive: true });
}
