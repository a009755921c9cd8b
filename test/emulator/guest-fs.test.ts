// Reading a guest's files from the host side: only regular files reached inside the guest's own
// directories, whatever symlinks its root plants on the way; authorized_keys parsed as sshd reads it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { authorizedKeys, readGuest, type GuestUser } from '../../src/emulator/guest-fs.js';

const base = mkdtempSync(join(tmpdir(), 'clonefleet-guest-fs-'));
const guest = join(base, 'guest');
const outside = join(base, 'outside');
for (const d of ['etc/ssh', 'home/u/.ssh', 'home/v', 'tmp']) mkdirSync(join(guest, d), { recursive: true });
mkdirSync(outside);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const user = (home: string): GuestUser => ({ name: 'u', uid: 1000, gid: 1000, home, shell: '/bin/sh', groups: [1000] });

describe('readGuest', () => {
  it('reads a regular file inside the guest, and follows symlinks that stay inside it', () => {
    writeFileSync(join(guest, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
    symlinkSync('../ssh/sshd_config', join(guest, 'etc/ssh/alias')); // relative: resolves inside the guest
    expect(readGuest(guest, '/etc/ssh/sshd_config')).toBe('PermitRootLogin no\n');
    mkdirSync(join(guest, 'etc/conf'));
    symlinkSync('../ssh', join(guest, 'etc/conf/ssh'));
    expect(readGuest(guest, '/etc/conf/ssh/sshd_config')).toBe('PermitRootLogin no\n');
  });

  it('refuses a file reached through a symlink in the last component or in a directory that leads outside', () => {
    writeFileSync(join(outside, 'secret'), 'host secret\n');
    symlinkSync(join(outside, 'secret'), join(guest, 'etc/ssh/ssh_host_ed25519_key'));
    expect(readGuest(guest, '/etc/ssh/ssh_host_ed25519_key')).toBeUndefined();
    symlinkSync(outside, join(guest, 'home/v/.ssh')); // a directory on the way
    writeFileSync(join(outside, 'authorized_keys'), 'ssh-ed25519 AAAA outside\n');
    expect(readGuest(guest, '/home/v/.ssh/authorized_keys')).toBeUndefined();
    // An absolute symlink means the guest's own path to the guest, but a host path to the emulator.
    symlinkSync('/etc', join(guest, 'etc/hostetc'));
    expect(readGuest(guest, '/etc/hostetc/hostname')).toBeUndefined();
    expect(readGuest(guest, '/etc/../../outside/secret')).toBeUndefined();
    expect(readGuest(guest, '/usr/bin/env')).toBeUndefined(); // not one of the guest's own directories
  });

  it('refuses what is not a regular file', () => {
    expect(readGuest(guest, '/home/u')).toBeUndefined();
    expect(readGuest(guest, '/etc/nope')).toBeUndefined();
  });
});

describe('authorizedKeys', () => {
  it('reads each key once per text, skips options and comments, and sees a change at once', () => {
    const a = ssh2.utils.generateKeyPairSync('ed25519').public;
    const b = ssh2.utils.generateKeyPairSync('ed25519').public;
    const file = join(guest, 'home/u/.ssh/authorized_keys');
    writeFileSync(file, `# admins\nfrom="10.0.0.0/8",no-pty ${a}\n\n${b}\n`);
    const keys = authorizedKeys(guest, user('/home/u'));
    expect(keys.map((k) => k.getPublicSSH().toString('base64'))).toEqual([a, b].map((k) => k.split(' ')[1]));
    expect(authorizedKeys(guest, user('/home/u'))).toBe(keys); // the same text: parsed once
    writeFileSync(file, `${b}\n`);
    expect(authorizedKeys(guest, user('/home/u')).map((k) => k.getPublicSSH().toString('base64'))).toEqual([b.split(' ')[1]]);
  });
});
