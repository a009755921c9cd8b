// Benchmark: a 10-step playbook (fleet play) against its slowest step run alone with `fleet run`, on
// one emulated fleet (GUESTS guests, default 500), and a converged re-run against the first run.
// Medians over RUNS runs (default 3); the first apply is made fresh each run (the guests' files are
// removed outside the timing). Prints the medians and the two ratios the playbook runner aims at:
// play / slowest step <= 1.3, converged / first <= 0.5.
//
//   node bench/play.mjs            GUESTS=500 RUNS=3 FANOUT=64 SUBNET=127.159.0.0/16
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fleetBin = join(root, 'bin/fleet');
const GUESTS = Number(process.env.GUESTS ?? 500);
const RUNS = Number(process.env.RUNS ?? 3);
const FANOUT = String(process.env.FANOUT ?? 64);
const SUBNET = process.env.SUBNET ?? '127.159.0.0/16';
const BASE = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

// The slowest step: a checksum over ~4 MiB of the guest's own making, standing for a real job's work.
const SLOW = 'head -c 4194304 /dev/zero | sha256sum > ~/bench-play/sum';
const PLAYBOOK = `name: bench
vars: {dir: /home/fleetadm/bench-play}
steps:
  - run: mkdir -p {{ dir }}
    creates: "{{ dir }}"
  - name: config
    template: {content: "host={{ host }}\\nindex={{ index }}\\n", dest: "{{ dir }}/app.conf", mode: "0644", validate: "grep -q host= %s"}
  - push: {content: "static\\n", dest: "{{ dir }}/static.txt"}
  - name: reload
    run: date >> {{ dir }}/reloads
    if-changed: config
  - name: work
    run: "${SLOW}"
    creates: "{{ dir }}/sum"
  - run: echo ok > {{ dir }}/state
    unless: test -s {{ dir }}/state
  - run: test -s {{ dir }}/state
    check: safe
  - run: uname -r
    check: safe
  - run: cat {{ dir }}/app.conf
    check: safe
  - run: test -s {{ dir }}/sum
    check: safe
`;

// The floor: the first apply's work as one hand-written script, run with one `fleet run` (what any
// tool must spend that reaches each guest once and runs the same commands). play / floor is what
// the playbook runner itself adds; on the emulator the guests' commands share the admin's cores, so
// play / slowest step also counts the other steps' own commands (mkdir, grep, mv, date, uname, cat).
const FLOOR = [
  'd=~/bench-play; mkdir -p $d',
  "printf 'host=guest\\nindex=0\\n' > $d/.app.tmp && grep -q host= $d/.app.tmp && mv $d/.app.tmp $d/app.conf",
  "printf 'static\\n' > $d/.static.tmp && mv $d/.static.tmp $d/static.txt",
  'date >> $d/reloads',
  SLOW,
  'echo ok > $d/state',
  'test -s $d/state && uname -r && cat $d/app.conf && test -s $d/sum',
].join('\n');

function fleet(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [fleetBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`fleet ${args.slice(0, 1)} exited ${r.status}: ${String(r.stderr).slice(-400)}${String(r.stdout).slice(-400)}`);
  return ms;
}

function main() {
  const state = mkdtempSync(join(BASE, 'fleet-bench-play-'));
  const stop = () => {
    spawnSync(process.execPath, [fleetBin, 'emulator', 'down', '--state', state, '--remove'], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  };
  process.on('SIGINT', () => (stop(), process.exit(130)));
  try {
    const up = spawnSync(process.execPath, [fleetBin, 'emulator', 'up', '--guests', String(GUESTS), '--state', state, '--subnet', SUBNET, '--detach', '--json'], { encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`emulator up failed: ${up.stderr}`);
    const pb = join(state, 'bench.yaml');
    writeFileSync(pb, PLAYBOOK);
    const sel = ['-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519'), '-f', FANOUT];
    const reset = () => fleet(['run', ...sel, '--', 'rm -rf ~/bench-play']);
    const rows = { step: [], floor: [], first: [], converged: [] };
    for (let i = 0; i < RUNS; i++) {
      fleet(['run', ...sel, '--', 'mkdir -p ~/bench-play']);
      rows.step.push(fleet(['run', ...sel, '--', SLOW]));
      reset();
      rows.floor.push(fleet(['run', ...sel, '--', FLOOR]));
      reset();
      rows.first.push(fleet(['play', ...sel, pb]));
      rows.converged.push(fleet(['play', ...sel, pb]));
      reset();
    }
    const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
    // Ratios run by run (the three commands of a run ran back to back), then their median: steadier
    // than a ratio of medians on a machine whose speed drifts.
    const firstToStep = median(rows.first.map((x, i) => x / rows.step[i]));
    const convergedToFirst = median(rows.converged.map((x, i) => x / rows.first[i]));
    const floorToStep = median(rows.floor.map((x, i) => x / rows.step[i]));
    const firstToFloor = median(rows.first.map((x, i) => x / rows.floor[i]));
    console.log(`${GUESTS} guests, fanout ${FANOUT}, medians of ${RUNS} runs (wall ms; ratios: medians of each run's ratio):`);
    console.log(`  slowest step alone (fleet run)  ${m.step.toFixed(0)}`);
    console.log(`  the same work as one script     ${m.floor.toFixed(0)}   ratio to the step ${floorToStep.toFixed(2)} (the floor)`);
    console.log(`  10-step playbook, first apply   ${m.first.toFixed(0)}   ratio ${firstToStep.toFixed(2)} (aim <= 1.3); to the one script ${firstToFloor.toFixed(2)}`);
    console.log(`  10-step playbook, converged     ${m.converged.toFixed(0)}   ratio to first ${convergedToFirst.toFixed(2)} (aim <= 0.5)`);
    const each = (xs, ys) => xs.map((x, i) => (x / ys[i]).toFixed(2)).join(' ');
    console.log(`  each run: first/step ${each(rows.first, rows.step)}; script/step ${each(rows.floor, rows.step)}; first/script ${each(rows.first, rows.floor)}; converged/first ${each(rows.converged, rows.first)}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    stop();
  }
}

main();
