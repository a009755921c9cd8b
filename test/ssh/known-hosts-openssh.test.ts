// Interoperability with the real OpenSSH tools: files they hash we read, files we write they read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addPin, addRevoked, fingerprintSha256, loadKnownHosts, updateKnownHosts, verify,
} from '../../src/ssh/index.js';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';

describe.skipIf(!existsSync(SSH_KEYGEN))('known_hosts against OpenSSH ssh-keygen', () => {
  let dir: string;
  const keys: Array<{ type: string; base64: string; key: Buffer }> = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-kh-'));
    for (const name of ['a', 'b', 'c']) {
      const file = join(dir, `id_${name}`);
      execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
      const [type, base64] = readFileSync(`${file}.pub`, 'utf8').split(' ');
      keys.push({ type, base64, key: Buffer.from(base64, 'base64') });
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const keygenFind = (host: string, file: string) =>
    spawnSync(SSH_KEYGEN, ['-F', host, '-f', file], { encoding: 'utf8' });

  it('finds entries hashed by ssh-keygen -H, for the right host and port only', async () => {
    const [a, b] = keys;
    const file = join(dir, 'hashed_by_openssh');
    writeFileSync(file, `web1 ${a.type} ${a.base64}\n[web2]:2222 ${a.type} ${a.base64}\n10.0.0.5 ${b.type} ${b.base64}\n`);
    execFileSync(SSH_KEYGEN, ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('web1');
    expect(text.split('\n').filter((l) => l.startsWith('|1|'))).toHaveLength(3);

    const kh = await loadKnownHosts(file);
    expect(kh.warnings).toEqual([]);
    expect(verify(kh, 'web1', 22, a.type, a.key)).toBe('ok');
    expect(verify(kh, 'web2', 2222, a.type, a.key)).toBe('ok');
    expect(verify(kh, '10.0.0.5', 22, b.type, b.key)).toBe('ok');
    expect(verify(kh, 'web1', 22, b.type, b.key)).toBe('changed');
    expect(verify(kh, 'web2', 22, a.type, a.key)).toBe('unknown');
    expect(verify(kh, 'web1', 2222, a.type, a.key)).toBe('unknown');
  });

  it('writes hashed and plain pins that ssh-keygen -F finds', async () => {
    const [a, b] = keys;
    const file = join(dir, 'written_by_fleet');
    writeFileSync(file, '# managed by fleet\n');
    await updateKnownHosts(file, (kh) => {
      addPin(kh, 'plain.example.org', 22, a.type, a.key, { comment: 'fleet' });
      addPin(kh, 'hashed.example.org', 22, b.type, b.key, { hashed: true });
      addPin(kh, '10.9.0.1', 2222, a.type, a.key, { hashed: true });
      addPin(kh, '10.9.0.2', 2200, b.type, b.key);
      addRevoked(kh, keys[2].type, keys[2].key);
    });

    for (const [host, key] of [
      ['plain.example.org', a],
      ['hashed.example.org', b],
      ['[10.9.0.1]:2222', a],
      ['[10.9.0.2]:2200', b],
    ] as const) {
      const found = keygenFind(host, file);
      expect(found.status, `${host}: ${found.stderr}`).toBe(0);
      expect(found.stdout).toContain(key.base64);
    }
    // Port 22 is not port 2222: ssh-keygen only shows the `@revoked *` line, which matches every host.
    for (const host of ['10.9.0.1', 'other.example.org']) {
      const found = keygenFind(host, file);
      expect(found.stdout).not.toContain(a.base64);
      expect(found.stdout).not.toContain(b.base64);
      expect(found.stdout).toContain(`@revoked * ${keys[2].type} ${keys[2].base64}`);
    }
  });

  it('lists the same fingerprints as ssh-keygen -l on a file we wrote', async () => {
    const [a, b] = keys;
    const file = join(dir, 'fingerprints');
    await updateKnownHosts(file, (kh) => {
      addPin(kh, 'one', 22, a.type, a.key);
      addPin(kh, 'two', 2022, b.type, b.key, { hashed: true });
    });
    const listed = execFileSync(SSH_KEYGEN, ['-l', '-f', file], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[1]);
    expect(listed).toEqual([fingerprintSha256(a.key), fingerprintSha256(b.key)]);
  });

  it('reads back what ssh-keygen -R leaves of our file, other lines untouched', async () => {
    const [a, b] = keys;
    const file = join(dir, 'removed_by_openssh');
    writeFileSync(file, `# top\r\nkeep ${b.type} ${b.base64}   odd  spacing\r\n`);
    await updateKnownHosts(file, (kh) => addPin(kh, 'gone', 22, a.type, a.key));
    execFileSync(SSH_KEYGEN, ['-R', 'gone', '-f', file], { stdio: 'ignore' });
    const kh = await loadKnownHosts(file);
    expect(verify(kh, 'gone', 22, a.type, a.key)).toBe('unknown');
    expect(verify(kh, 'keep', 22, b.type, b.key)).toBe('ok');
  });
});
