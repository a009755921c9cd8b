// A guest's sshd restarted from inside (`systemctl restart ssh`): it reloads the host keys from the
// guest's /etc/ssh for new connections while open sessions live on; with no keys left it fails and
// the guest stops listening.
import { afterAll, describe, expect, it } from 'vitest';
import { PLAIN_USER } from '../../src/emulator/index.js';
import { connectGuest, pinsFromKnownHosts, runOn, useFleet } from '../helpers/emulator.js';
import { presentedHostKey, type SshClientError, type SshSession } from '../helpers/ssh-client.js';

const F = useFleet({ guests: 3, subnet: '127.93.0.0/16' });
const sessions: SshSession[] = [];
const addr = (i: number) => F().emu.guests[i - 1]!.cfg.address;
const pins = (i: number) => pinsFromKnownHosts(F().emu.knownHostsPath, F().emu.hostPattern(F().emu.guests[i - 1]!));

afterAll(async () => {
  for (const s of sessions) s.close();
});

async function open(i: number, overrides: Parameters<typeof connectGuest>[2] = {}): Promise<SshSession> {
  const s = await connectGuest(F(), i, overrides);
  sessions.push(s);
  return s;
}

async function connectFailure(i: number, overrides: Parameters<typeof connectGuest>[2] = {}): Promise<SshClientError> {
  try {
    (await connectGuest(F(), i, { readyTimeout: 5000, ...overrides })).close();
  } catch (err) {
    return err as SshClientError;
  }
  throw new Error(`guest ${i} accepted the connection`);
}

describe('sshd restart on a guest', () => {
  it('serves a newly generated host key to new connections; the open session lives on', async () => {
    const oldKey = await presentedHostKey(addr(1), F().emu.port);
    const session = await open(1);
    const regen = await session.exec(
      "sudo -n rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && sudo -n ssh-keygen -q -t ed25519 -N '' -C root@guest001 -f /etc/ssh/ssh_host_ed25519_key && cat /etc/ssh/ssh_host_ed25519_key.pub",
    );
    expect(regen).toMatchObject({ code: 0, stderr: '' });
    const newKey = regen.stdout.split(' ')[1]!;
    expect(newKey).not.toBe(oldKey);
    // Nothing changes until sshd restarts.
    expect(await presentedHostKey(addr(1), F().emu.port)).toBe(oldKey);

    const restart = await session.exec('sudo -n systemctl restart ssh');
    expect(restart).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await presentedHostKey(addr(1), F().emu.port)).toBe(newKey);
    expect(F().emu.publicHostKeys(F().emu.guests[0]!)).toContain(`ssh-ed25519 ${newKey}`);

    expect((await connectFailure(1)).message).toMatch(/Host denied/); // the old pins no longer match
    const fresh = await open(1, { pins: [newKey] });
    expect((await fresh.exec('hostname')).stdout).toBe('guest001\n');
    expect((await session.exec('echo alive')).stdout).toBe('alive\n');
    // Other guests are untouched.
    expect(await presentedHostKey(addr(2), F().emu.port)).toBe(oldKey);
    expect(pins(2)).toContain(oldKey);
  });

  it('fails to restart without host keys (exit 1) and the guest becomes unreachable', async () => {
    const session = await open(2);
    const r = await session.exec('sudo -n rm -f /etc/ssh/ssh_host_*; sudo -n systemctl restart ssh');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no hostkeys available/);
    expect(r.stderr).toMatch(/Job for ssh\.service failed/);
    expect((await connectFailure(2)).code).toBe('ECONNREFUSED');
    const st = F().emu.status();
    expect(st.sshdRunning).toBe(2);
    expect(F().emu.guests[1]!.status().sshd).toBe('failed');
    expect(F().emu.publicHostKeys(F().emu.guests[1]!)).toEqual([]);

    // The session that did it still works, and can bring sshd back with fresh keys.
    expect((await session.exec('sudo -n systemctl is-active ssh')).code).toBe(3);
    const fix = await session.exec('sudo -n ssh-keygen -A >/dev/null && sudo -n systemctl start ssh && sudo -n systemctl is-active ssh');
    expect(fix).toMatchObject({ code: 0, stderr: '' });
    const back = await presentedHostKey(addr(2), F().emu.port);
    expect(pins(2)).not.toContain(back);
    expect((await (await open(2, { pins: [back] })).exec('hostname')).stdout).toBe('guest002\n');
  });

  it('stops and starts through `systemctl` and `service`, as root only', async () => {
    const session = await open(3);
    const denied = await session.exec('systemctl restart ssh');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Access denied/);
    expect((await session.exec('sudo -n systemctl restart nginx')).code).toBe(5);

    expect((await session.exec('sudo -n systemctl stop ssh.service')).code).toBe(0);
    expect((await connectFailure(3)).code).toBe('ECONNREFUSED');
    expect((await session.exec('sudo -n service ssh start')).code).toBe(0);
    expect((await runOn(F(), 3, 'hostname')).stdout).toBe('guest003\n');
  });

  // systemd answers is-active to any user, on stdout: scripts test `[ "$(systemctl is-active ssh)" = active ]`.
  it('answers `systemctl is-active ssh` without sudo, printing the state as systemd does', async () => {
    const r = await runOn(F(), 3, 'systemctl is-active ssh');
    expect(r).toMatchObject({ code: 0, stdout: 'active\n' });
  });

  // systemd knows who asks from the socket's peer credentials; a request's own words prove nothing.
  // perl (always on Debian) stands in for any program a user can write against the socket.
  it('does not let a user without sudo stop sshd by talking to the control socket directly', async () => {
    const guest = F().emu.guests[2]!;
    const send = (request: string) =>
      `perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => "/run/fleet/control.sock") or die "connect: $!\\n"; print $s "${request}\\n"; $s->shutdown(1); print <$s>'`;
    try {
      for (const request of ['stop ssh', 'stop ssh 0']) {
        const r = await runOn(F(), 3, send(request), { username: PLAIN_USER });
        expect(r.stderr, request).not.toMatch(/not found|Can't locate/); // perl ran; refusal may come either way
        expect(guest.status().sshd, `after '${request}' from ${PLAIN_USER}`).toBe('running');
      }
    } finally {
      if (guest.status().sshd !== 'running') await guest.startSshd();
    }
  });
});
