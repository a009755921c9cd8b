import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintSha256, keyTypeOfBlob } from '../../src/ssh/index.js';
import { ed25519 } from './keys.js';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const haveKeygen = existsSync(SSH_KEYGEN);

describe('fingerprintSha256', () => {
  it('is SHA256: plus unpadded base64 of the blob digest', () => {
    const fp = fingerprintSha256(ed25519(1));
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintSha256(ed25519(1))).toBe(fp);
    expect(fingerprintSha256(ed25519(2))).not.toBe(fp);
  });

  describe.skipIf(!haveKeygen)('matches ssh-keygen -lf', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'fleet-fp-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['ed25519', []],
      ['ecdsa', ['-b', '256']],
      ['rsa', ['-b', '2048']],
    ])('for %s keys', (type, bits) => {
      const file = join(dir, `id_${type}`);
      execFileSync(SSH_KEYGEN, ['-q', '-t', type, ...bits, '-N', '', '-C', 'test', '-f', file]);
      const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').split(' ');
      const key = Buffer.from(base64, 'base64');
      const printed = execFileSync(SSH_KEYGEN, ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
      expect(fingerprintSha256(key)).toBe(printed);
      expect(keyTypeOfBlob(key)).toBe(keyType);
    });
  });
});

describe('keyTypeOfBlob', () => {
  it('reads the type name of a blob', () => {
    expect(keyTypeOfBlob(ed25519(0))).toBe('ssh-ed25519');
  });

  it('returns null for things that are not key blobs', () => {
    expect(keyTypeOfBlob(Buffer.alloc(0))).toBeNull();
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 50, 1, 2]))).toBeNull();
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 0]))).toBeNull();
    expect(keyTypeOfBlob(Buffer.from('hello world'))).toBeNull();
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 2, 0x0a, 0x20]))).toBeNull();
  });
});
