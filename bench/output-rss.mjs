// Benchmark: peak RSS of the `fleet run` process when guests print a lot. One emulated fleet (its own
// process, state on /dev/shm) serves every case; each case is GUESTSxSIZE: that many guests each
// printing that many bytes of text, the whole output also kept with `--out` (a directory on the
// disk, removed after each run). The human view goes to a file, read back on failure. Medians over
// RUNS runs; peak RSS from GNU time (`%M`). The connect timeout is long: 500 guests printing at once
// load both cores, and what is measured here is memory, not how fast a busy emulator answers. Exits 1
// when a case's median peak is over MAX_RSS_MB (default 600: the bound the README promises).
//
//   node bench/output-rss.mjs                    CASES=500x10MiB,10x50MB RUNS=3 FANOUT=64
//   CASES=10x50MB RUNS=1 node bench/output-rss.mjs
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetBin, STATE_BASE as BASE, startEmulatedFleet } from './emulated-fleet.mjs';

const RUNS = Number(process.env.RUNS ?? 3);
const FANOUT = Number(process.env.FANOUT ?? 64);
const MAX_RSS_MB = Number(process.env.MAX_RSS_MB ?? 600);
const SUBNET = process.env.SUBNET ?? '127.134.0.0/16';
const OUT_BASE = process.env.OUT_BASE ?? tmpdir();
const UNITS = { MiB: 1 << 20, MB: 1e6 };
const CASES = (process.env.CASES ?? '500x10MiB,10x50MB').split(',').map((c) => {
  const m = /^(\d+)x(\d+)(MiB|MB)$/.exec(c.trim());
  if (!m) throw new Error(`CASES: GUESTSxSIZE(MiB|MB), got '${c}'`);
  return { label: c.trim(), guests: Number(m[1]), bytes: Number(m[2]) * UNITS[m[3]] };
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function runOnce(state, c) {
  const out = mkdtempSync(join(OUT_BASE, 'fleet-bench-out-'));
  const rssFile = join(BASE, `fleet-bench-rss-${process.pid}`);
  const report = join(OUT_BASE, `fleet-bench-report-${process.pid}`);
  const reportFd = openSync(report, 'w');
  const limit = `guest[${'1'.padStart(3, '0')}-${String(c.guests).padStart(3, '0')}]`;
  // Text that differs per guest, so nothing folds and every guest's output is its own.
  const command = `yes "$(hostname): a line of output as a busy service would print it" | head -c ${c.bytes}`;
  try {
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, fleetBin, 'run', limit,
      '-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519'), '-f', String(FANOUT), '--connect-timeout', '120', '--out', out, '--', command],
    { stdio: ['ignore', reportFd, 'pipe'], maxBuffer: 64 << 20 });
    const ms = performance.now() - t0;
    if (r.status !== 0) {
      const failures = readFileSync(report, 'latin1').split('\nFailures by reason:\n')[1] ?? '';
      throw new Error(`fleet run exited ${r.status}: ${String(r.stderr).slice(-600)}${failures.slice(0, 2000)}`);
    }
    const sizes = [1, c.guests].map((i) => statSync(join(out, `guest${String(i).padStart(3, '0')}.stdout`)).size);
    if (sizes.some((s) => s !== c.bytes)) throw new Error(`--out files hold ${sizes.join(', ')} bytes, expected ${c.bytes}`);
    const rssKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
    return { ms, rssMiB: rssKiB / 1024 };
  } finally {
    closeSync(reportFd);
    rmSync(out, { recursive: true, force: true });
    rmSync(rssFile, { force: true });
    rmSync(report, { force: true });
  }
}

const guests = Math.max(...CASES.map((c) => c.guests));
const { state, stop } = startEmulatedFleet({ prefix: 'fleet-bench-output-', guests, subnet: SUBNET });
try {
  const rows = [];
  const over = [];
  for (const c of CASES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(runOnce(state, c));
      console.error(`${c.label}: run ${i + 1}: ${(runs.at(-1).ms / 1000).toFixed(1)} s, peak RSS ${runs.at(-1).rssMiB.toFixed(0)} MiB`);
    }
    const rss = median(runs.map((r) => r.rssMiB));
    if (rss * 1.048576 > MAX_RSS_MB) over.push(`${c.label}: ${rss.toFixed(0)} MiB`);
    rows.push(`| ${c.guests} x ${c.label.split('x')[1]} | ${rss.toFixed(0)} MiB | ${(median(runs.map((r) => r.ms)) / 1000).toFixed(1)} s |`);
  }
  console.log(`Medians of ${RUNS} runs, fanout ${FANOUT}, --out on ${OUT_BASE}, ${new Date().toISOString().slice(0, 10)}:\n`);
  console.log('| guests x output each | peak RSS of `fleet run` | wall |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(r);
  if (over.length > 0) {
    console.error(`peak RSS over ${MAX_RSS_MB} MB: ${over.join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  stop();
}
