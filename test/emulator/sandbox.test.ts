// Confinement of an emulated guest: its /etc, /home, /var, /tmp, /run are its own directory on the
// host; the rest of the machine is read-only; other guests and the emulator's state are invisible.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { SHARED_ETC } from '../../src/emulator/golden.js';
import { PLAIN_USER } from '../../src/emulator/index.js';
import { connectGuest, runOn, useFleet } from '../helpers/emulator.js';
import type { SshClientError } from '../helpers/ssh-client.js';

const F = useFleet({ guests: 5, subnet: '127.82.0.0/16' }); // guests 4 and 5: one test each
const guestDir = (i: number) => F().emu.guests[i - 1]!.cfg.dir;
const probe = `fleet-sandbox-probe-${process.pid}`;

describe('guest sandbox', () => {
  it('puts a root write to /etc into that guest\'s directory only', async () => {
    const r = await runOn(F(), 1, `echo written-on-1 | sudo -n tee /etc/${probe} >/dev/null && cat /etc/${probe}`);
    expect(r).toMatchObject({ code: 0, stdout: 'written-on-1\n', stderr: '' });
    expect(readFileSync(join(guestDir(1), 'etc', probe), 'utf8')).toBe('written-on-1\n');
    expect(existsSync(join(guestDir(2), 'etc', probe))).toBe(false);
    expect(existsSync(join('/etc', probe))).toBe(false);
    const other = await runOn(F(), 2, `cat /etc/${probe}`);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/No such file/);
  });

  it('keeps /usr and the shared /etc entries read-only, even for root', async () => {
    const usr = await runOn(F(), 1, `sudo -n touch /usr/${probe}`);
    expect(usr.code).toBe(1);
    expect(usr.stderr).toMatch(/Read-only file system/);
    expect(existsSync(join('/usr', probe))).toBe(false);
    const bin = await runOn(F(), 1, 'sudo -n sh -c "echo x >> /usr/bin/env"');
    expect(bin.stderr).toMatch(/Read-only file system/);
    const ssl = await runOn(F(), 1, `sudo -n touch /etc/ssl/${probe}`);
    expect(ssl.stderr).toMatch(/Read-only file system/);
    expect(existsSync(join('/etc/ssl', probe))).toBe(false);
  });

  it('cannot remount or unmount its way out as root', async () => {
    const r = await runOn(F(), 1, 'sudo -n mount -o remount,rw /usr; echo "mount=$?"; sudo -n umount /tmp; echo "umount=$?"; sudo -n touch /usr/x; echo "touch=$?"');
    expect(r.stdout).toMatch(/^mount=[1-9]\d*\numount=[1-9]\d*\ntouch=1\n$/);
  });

  it('hides other guests and the emulator state (client private key) from inside a guest', async () => {
    const state = F().state;
    const paths = [state, join(state, 'id_ed25519'), join(state, 'guests'), join(guestDir(2), 'etc', 'hostname'), join(state, 'golden')];
    for (const user of ['', 'sudo -n ']) {
      const r = await runOn(F(), 1, paths.map((p) => `${user}ls -d '${p}' 2>/dev/null && echo "VISIBLE ${p}"`).join('; ') + '; true');
      expect(r.stdout, user || 'as fleetadm').toBe('');
      const key = await runOn(F(), 1, `${user}cat '${join(state, 'id_ed25519')}'`);
      expect(key.code).not.toBe(0);
      expect(key.stdout).not.toMatch(/PRIVATE KEY/);
    }
    // The client key is nowhere in the guest's own directories either.
    const grep = await runOn(F(), 1, 'sudo -n grep -rl "OPENSSH PRIVATE KEY" /home /root /tmp /var /run 2>/dev/null; true');
    expect(grep.stdout).toBe('');
  });

  it('shows the guest its own processes only', async () => {
    const r = await runOn(F(), 1, 'ls /proc | grep -c "^[0-9]"');
    expect(Number(r.stdout.trim())).toBeLessThan(10);
    const init = await runOn(F(), 1, 'cat /proc/1/cmdline | tr "\\0" " "');
    expect(init.stdout).toMatch(/fleet-sandbox/);
  });

  // The emulator reads a guest's sshd_config, host keys, passwd and authorized_keys from the host side;
  // it must resolve them as the guest sees them. A host-key symlink to the state dir's client key
  // (its host path shows in the guest's /proc/self/mountinfo) dangles inside the guest.
  it('does not let a guest\'s root point its sshd at a host file outside the guest', async () => {
    const clientKey = join(F().state, 'id_ed25519');
    const clientPub = readFileSync(`${clientKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const r = await runOn(F(), 4, `sudo -n ln -sf '${clientKey}' /etc/ssh/ssh_host_ed25519_key; sudo -n cat /etc/ssh/ssh_host_ed25519_key; sudo -n systemctl restart ssh`);
    expect(r.stderr).toMatch(/No such file/); // what the guest itself sees
    const served = F().emu.publicHostKeys(F().emu.guests[3]!);
    expect(served.length).toBeGreaterThan(0); // the ECDSA and RSA keys still load
    expect(served).not.toContain(clientPub);
  });

  // The emulator reads authorized_keys on its own event loop; a FIFO in its place must not stall it.
  // A timed writer on the host unblocks the read after 2 s, so a regression costs 2 s, not a hang.
  it('does not let an unprivileged user freeze the whole emulator with a FIFO as authorized_keys', async () => {
    const mk = await runOn(F(), 5, 'rm -f ~/.ssh/authorized_keys && mkfifo ~/.ssh/authorized_keys && ls -l ~/.ssh/authorized_keys', { username: PLAIN_USER });
    expect(mk.stdout).toMatch(/^p/);
    const fifo = join(guestDir(5), 'home', PLAIN_USER, '.ssh', 'authorized_keys');
    const writer = execa('timeout', ['5', 'sh', '-c', `sleep 2; echo unblock > '${fifo}'`], { reject: false });
    let maxGap = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 20);
    try {
      // operator's login makes the emulator read the FIFO; the other guests must keep answering.
      const attempt = connectGuest(F(), 5, { username: PLAIN_USER, readyTimeout: 6000 }).then(
        (s) => s.close(),
        () => undefined,
      );
      const t0 = performance.now();
      const other = await runOn(F(), 1, 'hostname');
      const otherMs = performance.now() - t0;
      await attempt;
      expect(other.stdout).toBe('guest001\n');
      expect(otherMs).toBeLessThan(1500);
      expect(maxGap).toBeLessThan(1000);
    } finally {
      clearInterval(tick);
      writer.kill();
      await writer;
    }
  });

  it('lets `rm -rf /etc` as root wreck only that guest', async () => {
    // Before anything destructive: the host entries bound into every guest's /etc must be read-only there.
    const writable = await runOn(F(), 3, `sudo -n sh -c 'for e in ${SHARED_ETC.join(' ')}; do [ -e "/etc/$e" ] && [ -w "/etc/$e" ] && echo "WRITABLE $e"; done; true'`);
    expect(writable).toMatchObject({ code: 0, stdout: '' });
    const hostShared = SHARED_ETC.filter((e) => existsSync(join('/etc', e)));
    const before = hostShared.map((e) => (readdirSafe(join('/etc', e))));

    const rm = await runOn(F(), 3, 'sudo -n rm -rf /etc; ls -A /etc | grep -v -x -e "' + SHARED_ETC.join('" -e "') + '"; true');
    expect(rm.stdout).toBe(''); // everything of the guest's own went
    expect(existsSync(join(guestDir(3), 'etc', 'passwd'))).toBe(false);

    // The wrecked guest no longer knows its users: new logins fail.
    let refused: SshClientError | undefined;
    try {
      (await connectGuest(F(), 3)).close();
    } catch (err) {
      refused = err as SshClientError;
    }
    expect(refused?.level).toBe('client-authentication');

    // The others, and the host, are untouched.
    for (const i of [1, 2]) {
      const r = await runOn(F(), i, 'grep -c "^fleetadm:" /etc/passwd; sudo -n id -u');
      expect(r, `guest ${i}`).toMatchObject({ code: 0, stdout: '1\n0\n' });
    }
    expect(existsSync(join(guestDir(1), 'etc', 'passwd'))).toBe(true);
    expect(readFileSync('/etc/passwd', 'utf8')).toMatch(/^root:/);
    expect(hostShared.map((e) => readdirSafe(join('/etc', e)))).toEqual(before);
  });
});

function readdirSafe(path: string): string[] | 'file' {
  try {
    return readdirSync(path).sort();
  } catch {
    return 'file';
  }
}
