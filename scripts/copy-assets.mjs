// tsc compiles TypeScript only: copy the SQL migrations (and dashboard assets) next to the compiled code.
import { cpSync, existsSync } from 'node:fs';
for (const dir of ['src/store/migrations', 'src/dashboard/public']) {
  if (existsSync(dir)) cpSync(dir, `dist/${dir}`, { recursive: true });
}
