// ssh2 keys signing and verifying through cached KeyObjects must produce exactly what its own PEM
// path produces and accepts, for every key type and hash the protocol uses.
import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { useKeyObjects } from '../../src/ssh/index.js';

/** ssh2's ed25519 generator yields an unparseable private key about once in 256: take one that parses. */
function ed25519Pair() {
  let pair = ssh2.utils.generateKeyPairSync('ed25519');
  while (ssh2.utils.parseKey(pair.private) instanceof Error) pair = ssh2.utils.generateKeyPairSync('ed25519');
  return pair;
}

function parsed(text: string): ParsedKey {
  const k = ssh2.utils.parseKey(text);
  if (k instanceof Error) throw k;
  return Array.isArray(k) ? k[0]! : k;
}

const KEYS = [
  { name: 'ed25519', gen: ed25519Pair, hashes: [undefined], ssh2Hash: null },
  { name: 'ecdsa-256', gen: () => ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }), hashes: [undefined], ssh2Hash: 'sha256' },
  { name: 'ecdsa-384', gen: () => ssh2.utils.generateKeyPairSync('ecdsa', { bits: 384 }), hashes: [undefined], ssh2Hash: 'sha384' },
  { name: 'ecdsa-521', gen: () => ssh2.utils.generateKeyPairSync('ecdsa', { bits: 521 }), hashes: [undefined], ssh2Hash: 'sha512' },
  { name: 'rsa', gen: () => ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }), hashes: [undefined, 'sha256', 'sha512'], ssh2Hash: 'sha1' },
] as const;

describe('useKeyObjects', () => {
  useKeyObjects();
  useKeyObjects(); // idempotent: a second install must not wrap the wrapper

  for (const k of KEYS) {
    it(`signs and verifies ${k.name} as ssh2's PEM path does`, () => {
      const pair = k.gen();
      const priv = parsed(pair.private);
      const pub = parsed(pair.public);
      const data = Buffer.from(`exchange hash for ${k.name}`);
      for (const hash of k.hashes) {
        const sig = priv.sign(data, hash);
        expect(sig).toBeInstanceOf(Buffer);
        const used = hash ?? k.ssh2Hash;
        // What ssh2 would have done with the PEM text: the same verdicts.
        expect(cryptoVerify(used, data, priv.getPublicPEM(), sig as Buffer), `${hash}`).toBe(true);
        expect(pub.verify(data, sig as Buffer, hash)).toBe(true);
        expect(pub.verify(Buffer.from('other data'), sig as Buffer, hash)).toBe(false);
        const viaPem = cryptoSign(used, data, priv.getPrivatePEM());
        expect(pub.verify(data, viaPem, hash)).toBe(true);
      }
    });
  }

  it('refuses a signature made by another key of the same type', () => {
    const a = ed25519Pair();
    const b = ed25519Pair();
    const data = Buffer.from('login');
    const sig = parsed(a.private).sign(data) as Buffer;
    expect(parsed(a.public).verify(data, sig)).toBe(true);
    expect(parsed(b.public).verify(data, sig)).toBe(false);
  });

  it('reports a key without its private half as an error, as ssh2 does', () => {
    const pub = parsed(ed25519Pair().public);
    expect(pub.sign(Buffer.from('x'))).toBeInstanceOf(Error);
  });
});
