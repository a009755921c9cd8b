// Benchmark: `fleet run` and `fleet push` against the usual parallel-SSH tools on one emulated fleet
// of 500 guests at the same fanout (64): pssh/pscp, pdsh/pdcp (ssh rcmd), clush, ansible (-m raw; -m
// copy for the push rows). Every tool uses the same client key and the same strict known_hosts
// (StrictHostKeyChecking=yes): nothing here turns host key checking off. The emulator runs once, in
// its own process (`fleet emulator up --detach`, state on /dev/shm). Medians over RUNS runs, tools
// interleaved within each run so a busy machine hurts all of them alike. Prints a Markdown table and
// the fleet process's peak RSS.
//
//   node bench/fanout.mjs                 GUESTS=500 RUNS=5 FANOUT=64 ANSIBLE_COPY_RUNS=1 by default
//   TOOLS=fleet,pssh node bench/fanout.mjs  only some tools
//
// Then, fleet alone: a first and a second (unchanged) push of files of SIZES MiB (default 1,4,16;
// SIZES= to skip), RUNS times each, medians and their ratio.
//
// Peers missing from the machine are installed with apt-get (Debian: pssh pdsh clustershell
// ansible-core) when running as root; otherwise their column says n/a.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetBin, startEmulatedFleet } from './emulated-fleet.mjs';
import { fanoutCommands, TOOLS } from './fanout-tools.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const GUESTS = Number(process.env.GUESTS ?? 500);
const RUNS = Number(process.env.RUNS ?? 5);
const FANOUT = Number(process.env.FANOUT ?? 64);
const ANSIBLE_COPY_RUNS = Number(process.env.ANSIBLE_COPY_RUNS ?? 1);
const SUBNET = process.env.SUBNET ?? '127.108.0.0/16';
const ONLY = process.env.TOOLS?.split(',');
const BASE = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
const SIZES = (process.env.SIZES ?? '1,4,16').split(',').filter(Boolean).map(Number);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const which = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

function ensurePeers() {
  const missing = TOOLS.filter((t) => t.name !== 'fleet' && !t.bins.every(which));
  if (missing.length === 0 || process.getuid?.() !== 0) return;
  const pkgs = [...new Set(missing.map((t) => t.debian))];
  console.error(`installing ${pkgs.join(' ')} with apt-get ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'], env });
}

/** Runs one command line; wall time, exit status, and peak RSS (GNU time) when asked. */
function timed(argv, env, withRss) {
  const rssFile = join(BASE, `fleet-bench-rss-${process.pid}`);
  const cmd = withRss && existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv] : argv;
  const t0 = performance.now();
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  const rssKiB = withRss && existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) : undefined;
  rmSync(rssFile, { force: true });
  return { ms, rssKiB, status: r.status, stderr: String(r.stderr ?? "").slice(-600) };
}

/** Removes what earlier pushes left in the guests' /tmp (outside the timing), so a "first" push is one. */
function clearPushed(state) {
  const guests = join(state, 'guests');
  for (const g of readdirSync(guests)) {
    const tmp = join(guests, g, 'tmp');
    for (const f of readdirSync(tmp)) if (f.startsWith('bench-')) rmSync(join(tmp, f), { recursive: true, force: true });
  }
}

function main() {
  ensurePeers();
  const { state, port, stop } = startEmulatedFleet({ prefix: 'fleet-bench-fanout-', guests: GUESTS, subnet: SUBNET });
  try {
    const payload = join(state, 'payload-1MiB');
    writeFileSync(payload, Buffer.alloc(1 << 20, 'fleet bench payload\n'));
    const ctx = { state, fleetBin, node: process.execPath, fanout: FANOUT, payload, port };
    const tools = TOOLS.filter((t) => (!ONLY || ONLY.includes(t.name)) && t.bins.every(which));
    const ops = ['run true', "run 'uname -a'", 'push 1 MiB (first)', 'push 1 MiB (again, unchanged)'];
    const times = new Map(); // `${op}|${tool}` -> ms[]
    const failures = [];
    let fleetRss = 0;
    for (let run = 0; run < RUNS; run++) {
      for (const tool of tools) {
        const cmds = fanoutCommands(tool.name, ctx, `bench-${tool.name}-${run}`);
        const slow = tool.name === 'ansible' && run >= ANSIBLE_COPY_RUNS;
        ops.forEach((op, i) => {
          if (!cmds[i] || (slow && op.startsWith('push'))) return;
          const r = timed(cmds[i].argv, cmds[i].env, tool.name === 'fleet');
          if (tool.name === 'fleet' && r.rssKiB) fleetRss = Math.max(fleetRss, r.rssKiB);
          if (r.status !== 0) failures.push(`${tool.name} ${op} (run ${run + 1}): exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
          const key = `${op}|${tool.name}`;
          times.set(key, [...(times.get(key) ?? []), r.ms]);
        });
        clearPushed(state);
      }
      console.error(`run ${run + 1}/${RUNS} done`);
    }
    const cell = (op, tool) => {
      const xs = times.get(`${op}|${tool}`);
      if (!xs) return 'n/a';
      return `${(median(xs) / 1000).toFixed(2)} s${xs.length < RUNS ? ` (${xs.length} run${xs.length > 1 ? 's' : ''})` : ''}`;
    };
    const names = tools.map((t) => t.label);
    console.log(`${GUESTS} emulated guests, fanout ${FANOUT}, medians of ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}:\n`);
    console.log(`| operation | ${names.join(' | ')} |`);
    console.log(`|---|${names.map(() => '---').join('|')}|`);
    for (const op of ops) console.log(`| \`${op}\` | ${tools.map((t) => cell(op, t.name)).join(' | ')} |`);
    console.log(`\nfleet process peak RSS (${GUESTS} guests): ${(fleetRss / 1024).toFixed(0)} MiB`);
    if (ONLY && !ONLY.includes('fleet')) SIZES.length = 0;
    if (SIZES.length) console.log(`\nfleet push, first (file absent) and again (unchanged), medians of ${RUNS} runs:\n`);
    if (SIZES.length) console.log('| size | first | again | first / again |\n|---|---|---|---|');
    for (const mib of SIZES) {
      const file = join(state, `payload-${mib}MiB`);
      writeFileSync(file, Buffer.alloc(mib << 20, `fleet bench payload ${mib}\n`));
      const [, , push] = fanoutCommands('fleet', { ...ctx, payload: file }, `bench-size-${mib}`);
      const first = [];
      const again = [];
      for (let run = 0; run < RUNS; run++) {
        for (const [list, label] of [[first, 'first'], [again, 'again']]) {
          const r = timed(push.argv, push.env, false);
          if (r.status !== 0) failures.push(`fleet push ${mib} MiB ${label} (run ${run + 1}): exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
          list.push(r.ms);
        }
        clearPushed(state);
      }
      rmSync(file);
      console.log(`| ${mib} MiB | ${(median(first) / 1000).toFixed(2)} s | ${(median(again) / 1000).toFixed(2)} s | ${(median(first) / median(again)).toFixed(1)}x |`);
    }
    if (failures.length) console.log(`\nFailures:\n${failures.map((f) => `- ${f}`).join('\n')}`);
  } finally {
    stop();
  }
}

main();
