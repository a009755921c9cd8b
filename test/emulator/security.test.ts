// The guest as an attacker: its root (NOPASSWD sudo on every clone) tries to reach the host and the
// other guests through file handles, forbidden system calls, the network and signals. The state
// directory is on disk here, as in the README's own example, because a file handle opened through a
// guest's writable mount of the host's disk file system would reach every host file.
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectGuest, runOn, useFleet } from '../helpers/emulator.js';

const SOURCE = fileURLToPath(new URL('./escape-probe.c', import.meta.url));
const DISK = process.env.FLEET_TEST_DISK_DIR ?? '/var/tmp'; // tmpfs under the test config's TMPDIR: not this
const F = useFleet({ guests: 3, subnet: '127.120.0.0/16' }, DISK);
const HOST_NET = useFleet({ guests: 1, subnet: '127.121.0.0/16', hostNetwork: true });
const LARGE = useFleet({ guests: 300, subnet: '127.122.0.0/16' });
const PROBE = '/tmp/escape-probe';

let hostProbe: string;
let hostProbeDir: string;
beforeAll(async () => {
  hostProbeDir = mkdtempSync(join(tmpdir(), 'escape-probe-'));
  hostProbe = join(hostProbeDir, 'escape-probe');
  await execa('cc', ['-o', hostProbe, SOURCE]);
  // The guests build it themselves, with the machine's compiler they see read-only.
  for (const [fleet, i] of [[F, 1], [F, 2], [HOST_NET, 1]] as const) {
    const r = await runOn(fleet(), i, `cat > /tmp/probe.c && cc -o ${PROBE} /tmp/probe.c && echo built`, { stdin: readFileSync(SOURCE, 'utf8') });
    expect(r, 'compiling the probe in a guest').toMatchObject({ code: 0, stdout: 'built\n' });
  }
});
afterAll(() => rmSync(hostProbeDir, { recursive: true, force: true }));

describe('a guest\'s root', () => {
  it('cannot open the host\'s files by handle, around the mounts that hide them', async () => {
    const state = F().state;
    const handle = (await execa(hostProbe, ['handle', state])).stdout.trim(); // "TYPE HEX" of the state dir
    expect(handle).toMatch(/^\d+ [0-9a-f]+$/);
    const [type, hex] = handle.split(' ');
    // Read the client's private key through the read-only root; write beside it through /etc and /tmp,
    // which are writable mounts of the same disk.
    const attempts = [
      ['/', 'id_ed25519', 'r'], ['/etc', 'id_ed25519', 'r'],
      ['/etc', 'escaped-through-etc', 'w'], ['/tmp', 'escaped-through-tmp', 'w'], ['/home', 'escaped-through-home', 'w'],
    ];
    const r = await runOn(F(), 1, attempts.map(([mnt, rel, mode]) => `sudo -n ${PROBE} open ${mnt} ${type} ${hex} ${rel} ${mode}`).join('; ') + '; true');
    expect(r.stdout.trim().split('\n')).toEqual(attempts.map(() => 'open_by_handle_at EPERM'));
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    for (const [, rel, mode] of attempts) if (mode === 'w') expect(existsSync(join(state, rel!))).toBe(false);
  });

  it('holds no more than a container\'s default capabilities, under a seccomp filter', async () => {
    const r = await runOn(F(), 1, 'sudo -n grep -E "^(CapBnd|CapEff|CapInh|CapAmb|Seccomp):" /proc/self/status');
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE AUDIT_WRITE SETFCAP:
    // Docker's default set less MKNOD, NET_RAW and SYS_CHROOT; DAC_READ_SEARCH above all is gone.
    expect(r.stdout).toBe([
      'CapInh:\t0000000000000000', 'CapEff:\t00000000a00005fb', 'CapBnd:\t00000000a00005fb',
      'CapAmb:\t0000000000000000', 'Seccomp:\t2', '',
    ].join('\n'));
  });

  it('gets EPERM from the system calls that reach past namespaces and mounts', async () => {
    const r = await runOn(F(), 1, `sudo -n ${PROBE} syscalls`);
    const results = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ')));
    const denied = ['name_to_handle_at', 'mount', 'umount2', 'unshare-user', 'unshare-net', 'clone-newuser', 'setns', 'keyctl',
      'add_key', 'ptrace', 'userfaultfd', 'bpf', 'init_module', 'kexec_load', 'io_uring_setup'];
    expect(results).toEqual({ ...Object.fromEntries(denied.map((d) => [d, 'EPERM'])), 'chown-own-file': 'ok' });
  });

  it('cannot see or signal the emulator, nor another guest\'s processes', async () => {
    const other = await connectGuest(F(), 2);
    try {
      const sleeper = await other.start('exec sleep 30');
      try {
        const self = await runOn(F(), 1, [
          `sudo -n kill -0 ${process.pid} 2>&1; echo "emulator=$?"`,
          'ls /proc | grep -E "^[0-9]+$" | while read p; do cat /proc/$p/cmdline 2>/dev/null | tr "\\0" " "; echo; done | grep -c "^sleep 30"; true',
          'sudo -n kill -9 -1 2>/dev/null; true', // everything it may signal: its own namespace only
        ].join('; '));
        expect(self.stdout).toMatch(/No such process\nemulator=1\n0\n$/);
        const still = await runOn(F(), 2, 'echo alive');
        expect(still.stdout).toBe('alive\n');
        expect(sleeper.destroyed).toBe(false);
      } finally {
        sleeper.close();
      }
    } finally {
      other.close();
    }
  });
});

describe('a guest\'s network', () => {
  const address = (fleet: typeof F, i: number) => fleet().emu.guests[i - 1]!.cfg.address;

  /** A listener a guest's plain user starts, on an address the host would route to loopback. */
  async function guestListens(fleet: typeof F, i: number, addr: string, port: number): Promise<{ reachable: boolean }> {
    const session = await connectGuest(fleet(), i);
    try {
      const ch = await session.start(`${PROBE} listen ${addr} ${port}`);
      const said = await new Promise<string>((resolve) => {
        let out = '';
        ch.on('data', (d: Buffer) => (out += d.toString()).includes('\n') && resolve(out));
        ch.stderr.on('data', (d: Buffer) => resolve(d.toString()));
        ch.on('close', () => resolve(out));
      });
      expect(said).toBe('listening\n');
      const reachable = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: addr, port }, () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
        s.setTimeout(2000, () => { s.destroy(); resolve(false); });
      });
      ch.end();
      return { reachable };
    } finally {
      session.close();
    }
  }

  it('keeps a guest\'s listener out of the host\'s reach, even on a stopped guest\'s address', async () => {
    // guest 4 does not exist: nothing serves 127.120.0.4, so a guest listening there would impersonate it.
    expect(await guestListens(F, 1, '127.120.0.4', 2222)).toEqual({ reachable: false });
    expect(await guestListens(F, 1, '127.0.0.1', 39173)).toEqual({ reachable: false });
  });

  it('shows a guest neither the host\'s sockets nor other guests\' sshd', async () => {
    const r = await runOn(F(), 1, `cat /proc/net/tcp /proc/net/tcp6 | grep -ci ":08AE "; ${PROBE} connect ${address(F, 2)} 2222; grep -c : /proc/net/dev`);
    const [listeners, connect, links] = r.stdout.trim().split('\n');
    expect(listeners).toBe('0'); // the emulator's 2222 listeners live in the host's namespace
    expect(connect).toBe('connect ECONNREFUSED');
    expect(Number(links)).toBe(1); // loopback only
    const lo = await runOn(F(), 1, `${PROBE} connect 127.0.0.1 1`);
    expect(lo.stdout).toBe('connect ECONNREFUSED\n'); // loopback is up: refused, not unreachable
  });

  it('shares the host\'s network only when the emulator is started with hostNetwork', async () => {
    expect(await guestListens(HOST_NET, 1, '127.121.0.9', 2222)).toEqual({ reachable: true });
  });
});

describe('guests\' network namespaces', () => {
  /** Network namespaces the emulator's spawner holds open (its own, the host's, included once). */
  const heldNamespaces = () => {
    const pid = LARGE().emu.spawnerPid!;
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('net:');
      } catch {
        return false; // closed meanwhile
      }
    }).length;
  };

  it('keeps a bounded number of idle ones, whatever the size of the fleet, and each guest stays alone', async () => {
    const guests = LARGE().emu.guests.length;
    for (let next = 1; next <= guests;) {
      const batch = Array.from({ length: Math.min(32, guests - next + 1) }, (_, k) => next + k);
      next += batch.length;
      const results = await Promise.all(batch.map((i) => runOn(LARGE(), i, 'grep -c : /proc/net/dev')));
      for (const r of results) expect(r.stdout).toBe('1\n');
    }
    expect(heldNamespaces()).toBeLessThanOrEqual(256 + 1);
    expect(heldNamespaces()).toBeGreaterThan(200);
    // The first guests' namespaces went first; they get new ones, as private as before.
    const again = await runOn(LARGE(), 1, `cat /proc/net/tcp | grep -ci ":08AE "; true`);
    expect(again.stdout).toBe('0\n');
  });
});
