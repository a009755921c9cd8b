// Benchmark: the emulator from hundreds to thousands of guests. For each case, a fresh state:
// `fleet emulator up --detach` until every guest listens, the emulator's RSS, the disk its clones
// take (guests' layers and overlay work directories), then `fleet run -- true` on every guest: its
// wall time, the client's peak RSS, and the emulator's RSS after. 500 guests twice, with the state
// on tmpfs and on disk (the place should not matter: clones are copy-on-write). Medians of RUNS runs.
//   RUNS=3 SIZES=500,2000,5000 DISK_BASE=/var/tmp npm run bench:scale
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fleet = join(root, 'bin/fleet');
const RUNS = Number(process.env.RUNS ?? 3);
const SIZES = (process.env.SIZES ?? '500,2000,5000').split(',').map(Number);
const TMPFS = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const DISK = process.env.DISK_BASE ?? '/var/tmp';
const SUBNET = process.env.SUBNET ?? '127.129.0.0/16';
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined; // GNU time: the client's peak RSS

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Bytes the blocks under dir take, as du counts them (hard links once). */
function diskBytes(dir) {
  const seen = new Set();
  let bytes = 0;
  const visit = (p) => {
    const st = lstatSync(p);
    if (seen.has(st.ino)) return;
    seen.add(st.ino);
    bytes += st.blocks * 512;
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(dir);
  return bytes;
}
const clonesBytes = (state) => diskBytes(join(state, 'guests')) + diskBytes(join(state, 'work'));

function runTrue(state) {
  const args = [fleet, 'run', '-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519'), '--', 'true'];
  const t0 = performance.now();
  const r = TIME
    ? spawnSync(TIME, ['-f', 'maxrss %M', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
    : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`fleet run true failed (exit ${r.status}): ${r.stdout.slice(-300)}${r.stderr.slice(-300)}`);
  const kb = Number(/maxrss (\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
  return { ms, clientMiB: kb / 1024 };
}

const cases = [];
for (const n of SIZES) {
  cases.push({ n, where: 'tmpfs', base: TMPFS });
  if (n === 500) cases.push({ n, where: 'disk', base: DISK });
}

const rows = [];
for (const c of cases) {
  const m = { up: [], rssUp: [], disk: [], run: [], client: [], rssRun: [], diskRun: [] };
  for (let i = 0; i < RUNS; i++) {
    const state = mkdtempSync(join(c.base, 'fleet-bench-scale-'));
    try {
      const t0 = performance.now();
      const out = execFileSync(process.execPath, [fleet, 'emulator', 'up', '--guests', String(c.n), '--state', state, '--subnet', SUBNET, '--detach', '--json'], { encoding: 'utf8' });
      m.up.push(performance.now() - t0);
      const { pid } = JSON.parse(out);
      m.rssUp.push(rssMiB(pid));
      m.disk.push(clonesBytes(state));
      const r = runTrue(state);
      m.run.push(r.ms);
      m.client.push(r.clientMiB);
      m.rssRun.push(rssMiB(pid));
      m.diskRun.push(clonesBytes(state));
    } finally {
      spawnSync(process.execPath, [fleet, 'emulator', 'down', '--state', state, '--remove'], { stdio: 'ignore' });
      rmSync(state, { recursive: true, force: true });
    }
  }
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  rows.push(`| ${c.n} | ${c.where} | ${(median(m.up) / 1000).toFixed(2)} s | ${median(m.rssUp).toFixed(0)} MiB | ${mib(median(m.disk))} MiB | ` +
    `${(median(m.run) / 1000).toFixed(2)} s | ${Number.isNaN(median(m.client)) ? 'n/a' : `${median(m.client).toFixed(0)} MiB`} | ${median(m.rssRun).toFixed(0)} MiB | ${mib(median(m.diskRun))} MiB |`);
  process.stderr.write(`${rows.at(-1)}\n`);
}
console.log(`Medians of ${RUNS} runs (fresh state each run), ${new Date().toISOString().slice(0, 10)}:\n`);
console.log('| guests | state on | `up --detach` until all listen | emulator RSS | clones on disk | `fleet run true` on all | client peak RSS | emulator RSS after | clones on disk after |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
