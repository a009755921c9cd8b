// The emulator's own host key generation (no ssh-keygen process per key): what it writes is a key
// OpenSSH reads, whose public half is the one it prints, and ssh2 signs with it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { generateHostKey } from '../../src/emulator/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-keygen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateHostKey', () => {
  for (const type of ['ed25519', 'ecdsa'] as const) {
    it(`${type}: ssh-keygen derives the same public key, and the key signs`, () => {
      for (let i = 0; i < 20; i++) {
        const k = generateHostKey(type, `test${i}`);
        const file = join(dir, `${type}-${i}`);
        writeFileSync(file, k.privateKey, { mode: 0o600 });
        const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
        expect(derived).toBe(k.publicKey.split(' ').slice(0, 2).join(' '));
        const parsed = utils.parseKey(k.privateKey);
        if (parsed instanceof Error) throw parsed;
        const key = Array.isArray(parsed) ? parsed[0]! : parsed;
        const data = Buffer.from(`data ${i}`);
        expect(key.verify(data, key.sign(data))).toBe(true);
      }
    });
  }
});
