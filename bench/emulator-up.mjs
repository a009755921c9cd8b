// Benchmark: how long `fleet emulator up --detach` takes until every guest listens, and how much
// memory the emulator process holds, for 100 and 500 guests (fresh state each run), plus the same
// after one `fleet run true` over the whole fleet. Medians over RUNS runs. Prints a Markdown table.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fleet = join(root, 'bin/fleet');
const RUNS = Number(process.env.RUNS ?? 3);
const SIZES = (process.env.SIZES ?? '100,500').split(',').map(Number);

// STATE_BASE=/some/disk/dir measures the state directory on a disk instead of tmpfs.
const BASE = process.env.STATE_BASE ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const rows = [];
for (const n of SIZES) {
  const up = [], rss = [], rssAfter = [], runMs = [];
  for (let i = 0; i < RUNS; i++) {
    const state = mkdtempSync(join(BASE, 'fleet-bench-'));
    try {
      const t0 = performance.now();
      const out = execFileSync(process.execPath, [fleet, 'emulator', 'up', '--guests', String(n), '--state', state, '--subnet', '127.90.0.0/16', '--detach', '--json'], { encoding: 'utf8' });
      up.push(performance.now() - t0);
      const { pid } = JSON.parse(out);
      rss.push(rssMiB(pid));
      const t1 = performance.now();
      spawnSync(process.execPath, [fleet, 'run', '-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519'), '--', 'true'], { stdio: 'ignore' });
      runMs.push(performance.now() - t1);
      rssAfter.push(rssMiB(pid));
    } finally {
      spawnSync(process.execPath, [fleet, 'emulator', 'down', '--state', state, '--remove'], { stdio: 'ignore' });
      rmSync(state, { recursive: true, force: true });
    }
  }
  rows.push(`| ${n} | ${(median(up) / 1000).toFixed(2)} s | ${median(rss).toFixed(0)} MiB | ${(median(runMs) / 1000).toFixed(2)} s | ${median(rssAfter).toFixed(0)} MiB |`);
}
console.log(`Medians of ${RUNS} runs (fresh state in ${BASE} each), ${new Date().toISOString().slice(0, 10)}:\n`);
console.log('| guests | `up --detach` until all listen | emulator RSS after up | `fleet run true` on all | emulator RSS after the run |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
