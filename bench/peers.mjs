// Benchmark: fleet against the usual tools on a fleet of real OpenSSH sshd on loopback (one sshd per
// guest, each with a private /tmp: every push really writes on every guest), the peers measured twice:
// with OpenSSH's default key exchange (9.2: sntrup761x25519-sha512@openssh.com) and with fleet's
// (`KexAlgorithms curve25519-sha256` in their ssh config). Per operation: wall time, the tool's CPU
// (user + sys of it and its children: the admin side) and the guests' sshd CPU (each sshd and the
// sessions it reaped). Tools interleaved within each run (A B A B ...), medians of RUNS runs.
//
//   node bench/peers.mjs     GUESTS=500 RUNS=3 FANOUT=64 SUBNET=127.195.0.0/16 TOOLS=fleet,scp,pssh,pdsh,clush
//
// Needs root (each sshd in its own mount namespace) and OpenSSH. Peers missing from the machine are
// left out; ansible only when TOOLS names it (minutes per push on 500 guests).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addressesIn, startSshdFleet } from './peers-fleet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fleetBin = join(root, 'bin/fleet');
const GUESTS = Number(process.env.GUESTS ?? 500);
const RUNS = Number(process.env.RUNS ?? 3);
const FANOUT = Number(process.env.FANOUT ?? 64);
const SUBNET = process.env.SUBNET ?? '127.195.0.0/16';
const PORT = 2222;
const TOOLS = (process.env.TOOLS ?? 'fleet,scp,pssh,pdsh,clush').split(',');
const KEX = (process.env.KEX ?? 'default,curve25519-sha256').split(',');
const BASE = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
const MIB = 1 << 20;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const which = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const BINS = { fleet: [], scp: ['xargs', 'ssh', 'scp'], pssh: ['parallel-ssh', 'parallel-scp'], pdsh: ['pdsh', 'pdcp'], clush: ['clush'], ansible: ['ansible'] };
const LABELS = { fleet: 'fleet', scp: '`xargs -P` ssh / scp', pssh: 'pssh / pscp', pdsh: 'pdsh / pdcp', clush: 'clush', ansible: 'ansible (raw; copy)' };

/** [run true, push (first), push (again)] for one tool with one ssh config. */
function commands(tool, ctx, sshConfig, dest) {
  const user = 'root';
  const f = String(FANOUT);
  const remote = `/tmp/${dest}`;
  const opts = [
    '-F', sshConfig, '-i', join(ctx.dir, 'id_ed25519'), '-o', `Port=${PORT}`, '-o', `UserKnownHostsFile=${join(ctx.dir, 'known_hosts')}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=60',
  ];
  const ssh = opts.join(' ');
  const hosts = join(ctx.dir, 'hosts');
  const cmd = (argv, env = {}) => ({ argv, env });
  switch (tool) {
    case 'fleet': {
      const sel = ['-i', join(ctx.dir, 'inventory'), '--identity', join(ctx.dir, 'id_ed25519'), '--known-hosts', join(ctx.dir, 'known_hosts'),
        '-F', 'none', '-f', f, '--connect-timeout', '60'];
      const push = cmd([process.execPath, fleetBin, 'push', ...sel, ctx.payload, remote]);
      return [cmd([process.execPath, fleetBin, 'run', ...sel, '--', 'true']), push, push];
    }
    case 'scp': {
      const xargs = (...a) => cmd(['sh', '-c', `xargs -P ${f} -I{} ${a.join(' ')} < ${hosts}`]);
      const push = xargs('scp', '-q', ssh, ctx.payload, `${user}@{}:${remote}`);
      return [xargs('ssh', ssh, `${user}@{}`, 'true'), push, push];
    }
    case 'pssh': {
      const common = ['-h', hosts, '-p', f, '-l', user, '-t', '300', '-x', ssh];
      const push = cmd(['parallel-scp', ...common, ctx.payload, remote]);
      return [cmd(['parallel-ssh', ...common, 'true']), push, push];
    }
    case 'pdsh': {
      const env = { PDSH_RCMD_TYPE: 'ssh', PDSH_SSH_ARGS: `-a -x ${ssh} -l%u %h` };
      const common = ['-w', `^${hosts}`, '-f', f, '-l', user];
      const push = cmd(['pdcp', ...common, ctx.payload, remote], env);
      return [cmd(['pdsh', ...common, 'true'], env), push, push];
    }
    case 'clush': {
      const common = ['--hostfile', hosts, '-f', f, '-l', user, '-o', ssh, '-t', '60'];
      const push = cmd(['clush', ...common, '--copy', ctx.payload, '--dest', remote]);
      return [cmd(['clush', ...common, '-b', 'true']), push, push];
    }
    case 'ansible': {
      const env = {
        ANSIBLE_SSH_ARGS: '', ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3', ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: join(ctx.dir, 'ansible-tmp'), ANSIBLE_SSH_COMMON_ARGS: ssh,
      };
      const common = ['all', '-i', join(ctx.dir, 'inventory'), '-f', f, '--private-key', join(ctx.dir, 'id_ed25519'), '-o'];
      const push = cmd(['ansible', ...common, '-m', 'copy', '-a', `src=${ctx.payload} dest=${remote}`], env);
      return [cmd(['ansible', ...common, '-m', 'raw', '-a', 'true'], env), push, push];
    }
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}

/** One command line: wall seconds, its CPU seconds (user + sys, with children), the guests' sshd CPU. */
function timed(c, fleet) {
  const timeFile = join(BASE, `fleet-bench-peers-time-${process.pid}`);
  const cpu0 = fleet.cpu();
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, ...c.argv],
    { env: { ...process.env, ...c.env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  const wall = (performance.now() - t0) / 1000;
  spawnSync('sleep', ['0.3']); // let every sshd reap its sessions
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  rmSync(timeFile, { force: true });
  return { wall, cpu: user + sys, guestCpu: fleet.cpu() - cpu0, status: r.status, out: `${String(r.stdout).slice(-400)}${String(r.stderr).slice(-400)}` };
}

/** The key exchange an OpenSSH client with this config negotiates with the first guest. */
function negotiated(ctx, sshConfig) {
  const r = spawnSync('ssh', ['-v', '-F', sshConfig, '-i', join(ctx.dir, 'id_ed25519'), '-p', String(PORT), '-o', `UserKnownHostsFile=${join(ctx.dir, 'known_hosts')}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${ctx.addresses[0]}`, 'true'], { encoding: 'utf8' });
  return /kex: algorithm: (\S+)/.exec(r.stderr)?.[1] ?? '?';
}

async function main() {
  const dir = mkdtempSync(join(BASE, 'fleet-bench-peers-'));
  const fleet = await startSshdFleet(dir, addressesIn(SUBNET, GUESTS), PORT);
  process.on('SIGINT', () => {
    fleet.stop();
    process.exit(130);
  });
  try {
    const payload = join(dir, 'payload-1MiB');
    writeFileSync(payload, Buffer.alloc(MIB, 'fleet bench payload\n'));
    const ctx = { dir, payload, addresses: fleet.addresses };
    const configs = Object.fromEntries(KEX.map((k) => {
      const file = join(dir, `ssh_config.${k}`);
      writeFileSync(file, k === 'default' ? '' : `KexAlgorithms ${k}\n`);
      return [k, { file, kex: negotiated(ctx, file) }];
    }));
    // fleet's own key exchange: the one an OpenSSH client restricted to it negotiates (ssh2's first choice here).
    const variants = TOOLS.filter((t) => BINS[t]?.every(which)).flatMap((t) =>
      t === 'fleet' ? [{ tool: t, kex: 'curve25519-sha256', config: '/dev/null' }] : KEX.map((k) => ({ tool: t, kex: configs[k].kex, config: configs[k].file })));
    const ops = ['run true', 'push 1 MiB (first)', 'push 1 MiB (again, unchanged)'];
    const rows = new Map(); // `${op}|${tool}|${kex}` -> {wall, cpu, guestCpu}[]
    const failures = [];
    for (let run = 0; run < RUNS; run++) {
      for (const v of variants) {
        const dest = `bench-${v.tool}-${run}`;
        commands(v.tool, ctx, v.config, dest).forEach((c, i) => {
          const r = timed(c, fleet);
          if (r.status !== 0) failures.push(`${v.tool} (${v.kex}) ${ops[i]} (run ${run + 1}): exit ${r.status}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
          if (i === 1 && fleet.holding(dest, MIB) !== GUESTS) r.status = r.status || -1;
          if (i === 1 && fleet.holding(dest, MIB) !== GUESTS) failures.push(`${v.tool} (${v.kex}) push (run ${run + 1}): ${fleet.holding(dest, MIB)} of ${GUESTS} guests hold the file`);
          const key = `${ops[i]}|${v.tool}|${v.kex}`;
          rows.set(key, [...(rows.get(key) ?? []), r]);
        });
        fleet.clear();
      }
      console.error(`run ${run + 1}/${RUNS} done`);
    }
    console.log(`${GUESTS} real OpenSSH sshd on loopback (one per guest, private /tmp), fanout ${FANOUT}, medians of ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}:\n`);
    for (const op of ops) {
      console.log(`\`${op}\`:\n`);
      console.log('| tool | key exchange | wall | admin CPU | admin CPU per guest | guests\' sshd CPU |');
      console.log('|---|---|---|---|---|---|');
      for (const v of variants) {
        // A failed run (exit status, or guests without the file) is left out of the medians.
        const xs = (rows.get(`${op}|${v.tool}|${v.kex}`) ?? []).filter((x) => x.status === 0);
        const m = (k) => median(xs.map((x) => x[k]));
        console.log(`| ${LABELS[v.tool]} | ${v.kex} | ${m('wall').toFixed(2)} s | ${m('cpu').toFixed(2)} s | ${((m('cpu') / GUESTS) * 1000).toFixed(1)} ms | ${m('guestCpu').toFixed(2)} s |`);
      }
      // fleet against each peer at fleet's key exchange: medians of the per-run ratios (paired runs).
      const mine = rows.get(`${op}|fleet|curve25519-sha256`);
      if (mine) {
        for (const v of variants.filter((x) => x.tool !== 'fleet' && x.kex.startsWith('curve25519'))) {
          const theirs = rows.get(`${op}|${v.tool}|${v.kex}`);
          const pairs = mine.map((x, i) => [x, theirs[i]]).filter(([a, b]) => a.status === 0 && b.status === 0);
          const ratio = (k) => median(pairs.map(([a, b]) => a[k] / b[k])).toFixed(2);
          console.log(`\nfleet / ${LABELS[v.tool]} at ${v.kex}: wall ${ratio('wall')}x, admin CPU ${ratio('cpu')}x, guests' sshd CPU ${ratio('guestCpu')}x`);
        }
      }
      console.log('');
    }
    if (failures.length) console.log(`Failures:\n${failures.map((f) => `- ${f}`).join('\n')}`);
  } finally {
    fleet.stop();
  }
}

await main();
