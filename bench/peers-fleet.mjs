// A fleet of real OpenSSH sshd on loopback for bench/peers.mjs: one sshd per guest, each in a mount
// namespace of its own with a private /tmp (a push to /tmp/x really writes on every guest), a tmpfs
// over /run, and root's ~/.bashrc hidden (a lean login shell, as on a server). Root logs in by key.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

function listening(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** `count` addresses in a /16 given as `a.b.0.0/16`: a.b.0.1 to a.b.0.250, then a.b.1.1, ... */
export function addressesIn(subnet, count) {
  const [a, b] = subnet.split('.');
  return Array.from({ length: count }, (_, i) => `${a}.${b}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

/**
 * Starts the fleet in `dir`: a shared host key (cloned guests share theirs), the client key
 * authorized for root, known_hosts pinning every guest, a hosts file and a fleet inventory.
 */
export async function startSshdFleet(dir, addresses, port) {
  mkdirSync(dir, { recursive: true });
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, 'host_key')]);
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, 'id_ed25519')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
  const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), addresses.map((a) => `[${a}]:${port} ${hostKey}\n`).join(''));
  writeFileSync(join(dir, 'hosts'), addresses.map((a) => `${a}\n`).join(''));
  mkdirSync(join(dir, 'inventory'));
  writeFileSync(join(dir, 'inventory', 'hosts'), addresses.map((a) => `${a} ansible_port=${port} ansible_user=root\n`).join(''));
  const procs = [];
  for (const [i, address] of addresses.entries()) {
    const cfg = join(dir, `sshd_config.${i}`);
    writeFileSync(cfg, [
      `ListenAddress ${address}:${port}`, `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PidFile none', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
      'KbdInteractiveAuthentication no', 'LogLevel FATAL', 'MaxStartups 200:30:400',
      'Subsystem sftp /usr/lib/openssh/sftp-server', '',
    ].join('\n'));
    const script = '{ [ ! -e /root/.bashrc ] || mount --bind /dev/null /root/.bashrc; } && ' +
      'mount -t tmpfs -o size=64k,mode=755 tmpfs /run && mkdir -m 755 /run/sshd && ' +
      `mount -t tmpfs -o size=256m,mode=1777 tmpfs /tmp && exec /usr/sbin/sshd -D -e -f '${cfg}'`;
    // unshare execs sh, which execs sshd: this child's pid is the guest's sshd.
    procs.push(spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'inherit'] }));
  }
  const stop = () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  };
  try {
    for (const address of addresses) {
      for (let i = 0; !(await listening(address, port)); i++) {
        if (i > 400) throw new Error(`sshd on ${address}:${port} did not start`);
        await delay(50);
      }
    }
  } catch (err) {
    stop();
    throw err;
  }
  const stat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return {
    dir, port, addresses,
    /** CPU seconds of every guest's sshd and the sessions it has reaped. */
    cpu: () => procs.reduce((sum, p) => {
      const f = stat(p.pid);
      return sum + (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
    }, 0),
    /** How many guests hold `/tmp/<name>` with `bytes` bytes. */
    holding: (name, bytes) => procs.filter((p) => {
      try {
        return readFileSync(`/proc/${p.pid}/root/tmp/${name}`).length === bytes;
      } catch {
        return false;
      }
    }).length,
    /** Removes what pushes left in the guests' /tmp. */
    clear: () => {
      for (const p of procs) {
        const tmp = `/proc/${p.pid}/root/tmp`;
        for (const f of readdirSync(tmp)) rmSync(join(tmp, f), { recursive: true, force: true });
      }
    },
    stop: () => {
      stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
