// Benchmark: `fleet run -- true` on GUESTS emulated guests, directly and through one jump host (a real
// OpenSSH sshd on loopback in front of them, pinned like the guests): wall time and the fleet
// process's CPU (user + sys, from GNU time), the jump sshd's CPU (its own and its reaped children's,
// from /proc) and its logins per run (from its log: one for the whole fleet). Medians over RUNS runs,
// the two routes interleaved so a busy machine hurts both alike. Prints a Markdown table.
//
//   node bench/jump.mjs        GUESTS=500 RUNS=5 FANOUT=64 SUBNET=127.165.0.0/16 JUMP=127.165.255.1
//
// Needs root (sshd runs in its own mount namespace with a tmpfs over /run) and OpenSSH's sshd.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { fleetBin, STATE_BASE as BASE, startEmulatedFleet } from './emulated-fleet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const GUESTS = Number(process.env.GUESTS ?? 500);
const RUNS = Number(process.env.RUNS ?? 5);
const FANOUT = Number(process.env.FANOUT ?? 64);
const SUBNET = process.env.SUBNET ?? '127.165.0.0/16';
const JUMP = process.env.JUMP ?? '127.165.255.1';
const JUMP_PORT = 2222;
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function listening(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A real sshd as the jump host: its own host key, the emulator's client key authorized for root. */
async function startJump(state) {
  const dir = mkdtempSync(join(BASE, 'fleet-bench-jump-sshd-'));
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, 'host_key')]);
  const pub = spawnSync('ssh-keygen', ['-y', '-f', join(state, 'id_ed25519')], { encoding: 'utf8' }).stdout;
  writeFileSync(join(dir, 'authorized_keys'), pub);
  writeFileSync(join(dir, 'sshd_config'), [
    `ListenAddress ${JUMP}:${JUMP_PORT}`, `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PidFile none', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'LogLevel VERBOSE', 'MaxStartups 200:30:400', '',
  ].join('\n'));
  const log = join(dir, 'sshd.log');
  const script = `mount -t tmpfs -o size=64k,mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -E '${log}' -f '${join(dir, 'sshd_config')}'`;
  // unshare execs sh, which execs sshd: this child's pid is the listening sshd's.
  const proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { stdio: 'ignore' });
  for (let i = 0; !(await listening(JUMP, JUMP_PORT)); i++) {
    if (i > 100 || proc.exitCode !== null) throw new Error(`jump sshd did not start: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
    await delay(50);
  }
  const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  return {
    hostKey,
    /** CPU seconds of sshd and every child it has reaped (its sessions). */
    cpu: () => {
      const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
    },
    logins: () => (readFileSync(log, 'utf8').match(/Accepted publickey/g) ?? []).length,
    stop: () => {
      proc.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One `fleet run`: wall seconds, the fleet process's CPU seconds (user + sys), exit status. */
function timedRun(args) {
  const timeFile = join(BASE, `fleet-bench-time-${process.pid}`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, process.execPath, fleetBin, 'run', ...args, '--', 'true'],
    { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const wall = (performance.now() - t0) / 1000;
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  rmSync(timeFile, { force: true });
  return { wall, cpu: user + sys, status: r.status, out: `${String(r.stdout).slice(-800)}${String(r.stderr).slice(-800)}` };
}

async function main() {
  let jump;
  const { state, stop } = startEmulatedFleet({ prefix: 'fleet-bench-jump-', guests: GUESTS, subnet: SUBNET, onStop: () => jump?.stop() });
  try {
    jump = await startJump(state);
    // The guests' pins and the jump host's, in one known_hosts: every hop is checked.
    const kh = join(state, 'known_hosts_with_jump');
    copyFileSync(join(state, 'known_hosts'), kh);
    appendFileSync(kh, `[${JUMP}]:${JUMP_PORT} ${jump.hostKey}\n`);
    const sel = ['-i', join(state, 'inventory'), '--identity', join(state, 'id_ed25519'), '--known-hosts', kh, '-f', String(FANOUT), '--connect-timeout', '60'];
    const routes = [
      { label: 'direct', args: sel },
      { label: `through one jump host (${JUMP}:${JUMP_PORT}, OpenSSH sshd)`, args: [...sel, '--jump', `root@${JUMP}:${JUMP_PORT}`], jump: true },
    ];
    const rows = new Map(routes.map((r) => [r.label, { wall: [], cpu: [], sshdCpu: [], logins: [] }]));
    for (let run = 0; run < RUNS; run++) {
      for (const route of routes) {
        const [cpu0, logins0] = [jump.cpu(), jump.logins()];
        const r = timedRun(route.args);
        if (r.status !== 0) throw new Error(`fleet run (${route.label}) exited ${r.status}:\n${r.out}`);
        await delay(200); // let sshd reap its session before reading its CPU
        const row = rows.get(route.label);
        row.wall.push(r.wall);
        row.cpu.push(r.cpu);
        row.sshdCpu.push(jump.cpu() - cpu0);
        row.logins.push(jump.logins() - logins0);
      }
      console.error(`run ${run + 1}/${RUNS} done`);
    }
    console.log(`\`fleet run -- true\` on ${GUESTS} emulated guests, fanout ${FANOUT}, medians of ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}:\n`);
    console.log('| route | wall | fleet CPU (user+sys) | jump sshd CPU | jump host logins |');
    console.log('|---|---|---|---|---|');
    for (const route of routes) {
      const x = rows.get(route.label);
      const sshd = route.jump ? `${median(x.sshdCpu).toFixed(2)} s` : '-';
      console.log(`| ${route.label} | ${median(x.wall).toFixed(2)} s | ${median(x.cpu).toFixed(2)} s | ${sshd} | ${route.jump ? median(x.logins) : '-'} |`);
    }
  } finally {
    stop();
  }
}

await main();
