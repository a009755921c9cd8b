// Authentication on an emulated guest: public keys from the user's own authorized_keys, nothing else.
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { ADMIN_USER, PLAIN_USER } from '../../src/emulator/index.js';
import { connectGuest, runOn, useFleet } from '../helpers/emulator.js';
import type { SshClientError } from '../helpers/ssh-client.js';

const { utils } = ssh2;

const F = useFleet({ guests: 3, subnet: '127.80.0.0/16' });

async function refusal(index: number, overrides: Parameters<typeof connectGuest>[2]): Promise<SshClientError> {
  try {
    const s = await connectGuest(F(), index, overrides);
    s.close();
  } catch (err) {
    return err as SshClientError;
  }
  throw new Error(`guest ${index} let ${overrides?.username ?? ADMIN_USER} in`);
}

/** Gives root the client key on one guest (from the inside, through fleetadm's sudo). */
async function authorizeRoot(index: number): Promise<void> {
  const r = await runOn(F(), index, `sudo -n sh -c 'mkdir -p -m 700 /root/.ssh && cp /home/${ADMIN_USER}/.ssh/authorized_keys /root/.ssh/ && chown -R root:root /root/.ssh'`);
  expect(r).toMatchObject({ code: 0, stderr: '' });
}

describe('guest authentication', () => {
  it('lets fleetadm in with the client key', async () => {
    const r = await runOn(F(), 1, 'id -un');
    expect(r).toMatchObject({ code: 0, stdout: `${ADMIN_USER}\n` });
  });

  it('lets operator in too (same key in its authorized_keys)', async () => {
    const r = await runOn(F(), 1, 'id -un', { username: PLAIN_USER });
    expect(r).toMatchObject({ code: 0, stdout: `${PLAIN_USER}\n` });
  });

  it('refuses an unknown user', async () => {
    expect((await refusal(1, { username: 'nosuchuser' })).level).toBe('client-authentication');
  });

  it('refuses a key that is not authorized', async () => {
    // ssh2's ed25519 generator yields an unparseable key about once in 256: take one that parses.
    let other = utils.generateKeyPairSync('ed25519');
    while (utils.parseKey(other.private) instanceof Error) other = utils.generateKeyPairSync('ed25519');
    expect((await refusal(1, { privateKey: other.private })).level).toBe('client-authentication');
  });

  it('refuses a password, even with no key offered', async () => {
    expect((await refusal(1, { privateKey: undefined, password: 'fleetadm' })).level).toBe('client-authentication');
    expect((await refusal(1, { privateKey: undefined, password: '' })).level).toBe('client-authentication');
  });

  it('refuses root with an authorized key while PermitRootLogin is no', async () => {
    await authorizeRoot(1);
    expect((await refusal(1, { username: 'root' })).level).toBe('client-authentication');
  });

  it('lets root in once the guest\'s sshd_config permits it (the refusal above is that setting)', async () => {
    await authorizeRoot(2);
    const edit = await runOn(F(), 2, "sudo -n sed -i 's/^PermitRootLogin no$/PermitRootLogin prohibit-password/' /etc/ssh/sshd_config");
    expect(edit.code).toBe(0);
    const r = await runOn(F(), 2, 'id -u', { username: 'root' });
    expect(r).toMatchObject({ code: 0, stdout: '0\n' });
    expect((await refusal(1, { username: 'root' })).level).toBe('client-authentication'); // guest 1 unchanged
  });

  it('refuses a user whose key is removed from authorized_keys', async () => {
    const r = await runOn(F(), 3, `sudo -n sh -c ': > /home/${ADMIN_USER}/.ssh/authorized_keys'`);
    expect(r.code).toBe(0);
    expect((await refusal(3, {})).level).toBe('client-authentication');
    expect((await runOn(F(), 3, 'id -un', { username: PLAIN_USER })).stdout).toBe(`${PLAIN_USER}\n`);
  });

  it('refuses everyone under the auth-reject fault, and accepts again once it is cleared', async () => {
    await F().emu.setFault('auth-reject@1');
    expect((await refusal(1, {})).level).toBe('client-authentication');
    expect((await runOn(F(), 2, 'id -un')).stdout).toBe(`${ADMIN_USER}\n`);
    await F().emu.clearFaults('auth-reject');
    expect((await runOn(F(), 1, 'id -un')).stdout).toBe(`${ADMIN_USER}\n`);
  });
});
