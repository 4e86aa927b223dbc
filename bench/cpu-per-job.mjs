// CPU time per job of a drain, every process involved: the bench process, its descendants (executor hosts) and
// the PostgreSQL backends it opened (found by the pid in their application_name). Far less load-sensitive than
// wall time on a shared machine.
//   node bench/cpu-per-job.mjs <jobs> -- node --import tsx bench/ab-drain.mts postgres <jobs> <concurrency>
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';

const jobs = Number(process.argv[2]);
const cmd = process.argv.slice(process.argv.indexOf('--') + 1);
const PG = process.env.VIGIL_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const tick = 1 / 100; // clock ticks to seconds (CLK_TCK 100)
const last = new Map(); // pid -> cpu seconds
const names = new Map();
function stat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(') ') + 2).split(' ');
  return { ppid: Number(rest[1]), cpu: (Number(rest[11]) + Number(rest[12])) * tick };
}
function descendants(root) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const { ppid } = stat(d);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}
const admin = new pg.Client({ connectionString: PG });
await admin.connect();
const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => (out += d));
const sample = async () => {
  const pids = descendants(child.pid);
  // The bench's node process is the last "node" in the chain (timeout/npx wrappers aside): match any of them.
  const backends = (await admin.query("SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE 'vigil:%'")).rows
    .filter((r) => pids.some((p) => r.application_name.endsWith(`:${p}.1`) || r.application_name.includes(`:${p}.`)))
    .map((r) => r.pid);
  for (const p of [...pids, ...backends]) {
    try {
      last.set(p, stat(p).cpu);
      if (!names.has(p)) names.set(p, readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 90));
    } catch {}
  }
};
const timer = setInterval(() => void sample().catch(() => {}), 100);
await new Promise((r) => child.on('exit', r));
clearInterval(timer);
await admin.end();
const total = [...last.values()].reduce((a, b) => a + b, 0);
if (process.env.CPU_DETAIL) for (const [p, c] of last) console.error(`  pid ${p}: ${c.toFixed(2)} s ${names.get(p) ?? ''}`);
console.log(`${out.trim()} | CPU ${((total * 1e6) / jobs).toFixed(0)} µs/job over ${last.size} processes`);
