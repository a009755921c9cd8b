// SshConnection against emulated guests: host key verdicts through the per-run known_hosts index
// (literal, wildcard, negated, hashed lines; edits after first use), client keys of every type,
// and the SFTP file operations the executor builds on.
import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addPin, hashHostName, parseKnownHosts, removePins, SshConnection, SshError, type KnownHosts,
} from '../../src/ssh/index.js';
import { hashedNameMatcher } from '../../src/ssh/connection-hashed.js';
import { startFleet, type TestFleet } from '../helpers/emulator.js';

let tf: TestFleet;
let key: string; // base64 ed25519 host key, shared by the cloned guests

beforeAll(async () => {
  tf = await startFleet({ guests: 3, subnet: '127.107.0.0/16', port: 2222 });
  key = readFileSync(tf.emu.knownHostsPath, 'utf8').split('\n').find((l) => l.includes(' ssh-ed25519 '))!.split(' ')[2]!;
});

afterAll(async () => {
  await tf?.stop();
});

const addr = (i: number) => `127.107.0.${i}`;

async function attempt(i: number, kh: KnownHosts, privateKey = tf.clientKey): Promise<string> {
  try {
    const c = await SshConnection.connect({
      name: `guest${i}`, address: addr(i), port: 2222, knownHosts: kh,
      credentials: { username: tf.emu.user, privateKey }, connectTimeoutMs: 10_000,
    });
    c.close();
    return 'ok';
  } catch (err) {
    return err instanceof SshError ? `${err.reason}${err.details.verdict ? `:${err.details.verdict}` : ''}` : String(err);
  }
}

describe('host key verification with the known_hosts index', () => {
  it('matches wildcard patterns and honours negations, as lookup() does', async () => {
    const kh = parseKnownHosts(`[127.107.0.*]:2222,![127.107.0.2]:2222 ssh-ed25519 ${key}\n`);
    expect([await attempt(1, kh), await attempt(2, kh), await attempt(3, kh)]).toEqual(['ok', 'hostkey-refused:unknown', 'ok']);
  });

  it('matches hashed names for the right host only', async () => {
    const kh = parseKnownHosts(`${hashHostName('[127.107.0.3]:2222')} ssh-ed25519 ${key}\n${hashHostName('127.107.0.1')} ssh-ed25519 ${key}\n`);
    expect([await attempt(1, kh), await attempt(3, kh)]).toEqual(['hostkey-refused:unknown', 'ok']);
  });

  it('refuses a key revoked anywhere in the file, whatever pins it', async () => {
    const kh = parseKnownHosts(`[127.107.0.1]:2222 ssh-ed25519 ${key}\n@revoked nothing-matches-this ssh-ed25519 ${key}\n`);
    expect(await attempt(1, kh)).toBe('hostkey-refused:revoked');
  });

  it('sees edits made after the first connection (pins added, pins removed)', async () => {
    const kh = parseKnownHosts('# empty\n');
    expect(await attempt(2, kh)).toBe('hostkey-refused:unknown');
    addPin(kh, addr(2), 2222, 'ssh-ed25519', Buffer.from(key, 'base64'));
    expect(await attempt(2, kh)).toBe('ok');
    removePins(kh, addr(2), 2222);
    expect(await attempt(2, kh)).toBe('hostkey-refused:unknown');
  });
});

describe('hashed name matching', () => {
  it('agrees with HMAC-SHA1 for names of every length, any salt, and rejects near misses', () => {
    for (let n = 1; n <= 80; n++) {
      const name = `[${'h'.repeat(n)}é]:22`.slice(0, n);
      for (const saltLength of [20, 1, 64, 65]) {
        const salt = randomBytes(saltLength);
        const hash = createHmac('sha1', salt).update(name).digest();
        const flipped = Buffer.from(hash);
        flipped[n % 20]! ^= 0x40;
        const matches = hashedNameMatcher(name);
        expect([matches(salt, hash), matches(salt, flipped), hashedNameMatcher(`${name}.`)(salt, hash)]).toEqual([true, false, false]);
      }
    }
  });
});

describe('client keys', () => {
  it.each(['rsa', 'ecdsa', 'ed25519'])('authenticates with a %s key', async (type) => {
    const file = join(tf.state, `client_${type}`);
    await execa('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', file]);
    const guestKeys = join(tf.emu.guests[0]!.cfg.dir, 'home/fleetadm/.ssh/authorized_keys');
    appendFileSync(guestKeys, readFileSync(`${file}.pub`));
    const kh = parseKnownHosts(readFileSync(tf.emu.knownHostsPath));
    expect(await attempt(1, kh, readFileSync(file))).toBe('ok');
    // The same key on a guest that does not know it: refused as authentication, not as anything else.
    expect(await attempt(2, kh, readFileSync(file))).toBe('auth-refused');
  });
});

describe('SFTP file operations', () => {
  it('uploads exclusively with a mode, renames over, links, stats and unlinks', async () => {
    const kh = parseKnownHosts(readFileSync(tf.emu.knownHostsPath));
    const c = await SshConnection.connect({
      name: 'guest3', address: addr(3), port: 2222, knownHosts: kh,
      credentials: { username: tf.emu.user, privateKey: tf.clientKey }, connectTimeoutMs: 10_000,
    });
    const home = join(tf.emu.guests[2]!.cfg.dir, 'home/fleetadm');
    try {
      const data = Buffer.alloc(3 << 20, 7); // several write requests in flight
      await c.uploadNew('/home/fleetadm/up.bin', data, { mode: 0o640 });
      expect(readFileSync(join(home, 'up.bin')).equals(data)).toBe(true);
      expect(statSync(join(home, 'up.bin')).mode & 0o777).toBe(0o640);
      await expect(c.uploadNew('/home/fleetadm/up.bin', data, { mode: 0o600 })).rejects.toThrow();
      await c.uploadNew('/home/fleetadm/empty', Buffer.alloc(0), { mode: 0o600 });
      expect(await c.statFile('/home/fleetadm/empty')).toMatchObject({ size: 0, uid: 1000 });
      await c.hardlink('/home/fleetadm/up.bin', '/home/fleetadm/up.link');
      await c.renameOver('/home/fleetadm/empty', '/home/fleetadm/up.bin');
      expect(readFileSync(join(home, 'up.bin')).length).toBe(0);
      expect(readFileSync(join(home, 'up.link')).equals(data)).toBe(true);
      await c.unlink('/home/fleetadm/up.link');
      expect(await c.statFile('/home/fleetadm/up.link')).toBeUndefined();
      expect(c.lost).toBe(false);
    } finally {
      c.close();
    }
  });
});
