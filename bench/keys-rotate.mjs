// Benchmark: `fleet keys rotate` over a whole emulated fleet of cloned guests (fresh state each run):
// wall time of the rotation, the emulator's CPU during it, and a check that afterwards no two guests
// share a key. Two configurations: the key types each guest has (the golden image's ed25519, ECDSA
// and RSA-3072: RSA generation dominates) and `--types ed25519,ecdsa`. Medians over RUNS runs.
//   node bench/keys-rotate.mjs            SIZES=500 RUNS=3 RSA_RUNS=1 by default
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fleet = join(root, 'bin/fleet');
const RUNS = Number(process.env.RUNS ?? 3);
const RSA_RUNS = Number(process.env.RSA_RUNS ?? 1);
const SIZES = (process.env.SIZES ?? '500').split(',').map(Number);
const FANOUT = process.env.FANOUT ?? '64';
const BASE = process.env.STATE_BASE ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime + stime, plus cutime + cstime: the guests' sandboxed commands (sudo, ssh-keygen) are its children
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
};

function once(n, types) {
  const state = mkdtempSync(join(BASE, 'fleet-bench-keys-'));
  try {
    const up = execFileSync(process.execPath, [fleet, 'emulator', 'up', '--guests', String(n), '--state', state, '--subnet', '127.125.0.0/16', '--detach', '--json'], { encoding: 'utf8' });
    const { pid } = JSON.parse(up);
    const sel = ['-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519')];
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [fleet, 'keys', 'rotate', ...sel, '--yes', '--json', '--fanout', FANOUT, ...(types ? ['--types', types] : [])], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = rows.at(-1).summary;
    if (r.status !== 0 || summary.done !== n) {
      const why = rows.filter((x) => x.outcome && x.outcome !== 'done').slice(0, 5).map((x) => `  ${x.outcome} at ${x.step}: ${x.error}`).join('\n');
      throw new Error(`rotation failed: ${JSON.stringify(summary)}\n${why}\n${r.stderr}`);
    }
    const scan = spawnSync(process.execPath, [fleet, 'keys', 'scan', ...sel, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const after = JSON.parse(scan.stdout.trim().split('\n').at(-1)).summary;
    if (after.pinned !== n || after.cloneGroups.length !== 0) throw new Error(`after rotation: ${JSON.stringify(after)}`);
    return { wall, cpu };
  } finally {
    spawnSync(process.execPath, [fleet, 'emulator', 'down', '--state', state, '--remove'], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  }
}

const rows = [];
for (const n of SIZES) {
  for (const [label, types, runs] of [['ed25519 + ECDSA (`--types ed25519,ecdsa`)', 'ed25519,ecdsa', RUNS], ['as found: ed25519 + ECDSA + RSA-3072', null, RSA_RUNS]]) {
    if (runs <= 0) continue;
    const res = [];
    for (let i = 0; i < runs; i++) {
      // A run whose guests lost their emulated systemctl (an `npm run build` elsewhere recreates
      // dist/emulator/guest-bin) rolls those guests back; it is reported and run again, twice at most.
      for (let attempt = 1; ; attempt++) {
        try {
          res.push(once(n, types));
          break;
        } catch (err) {
          process.stderr.write(`${n} guests, ${label}: run ${i + 1} attempt ${attempt} failed: ${err.message.split('\n').slice(0, 6).join('\n')}\n`);
          if (attempt === 3) throw err;
        }
      }
      process.stderr.write(`${n} guests, ${label}: run ${i + 1}: ${res.at(-1).wall.toFixed(1)} s\n`);
    }
    rows.push(`| ${n} | ${label} | ${runs} | ${median(res.map((r) => r.wall)).toFixed(1)} s | ${median(res.map((r) => r.cpu)).toFixed(1)} s |`);
  }
}
console.log(`fanout ${FANOUT}, fresh emulated fleet in ${BASE} each run, ${new Date().toISOString().slice(0, 10)}:\n`);
console.log('| guests | key types after | runs | `fleet keys rotate` (median) | emulator CPU during it (with its guests\' commands) |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
