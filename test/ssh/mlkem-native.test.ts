// ML-KEM-768 of the post-quantum key exchange as installed: patches/@noble+post-quantum+0.7.1.patch
// has it hash with Node's SHA-3 and SHAKE instead of the JS Keccak of @noble/hashes. The results
// must be the library's own: keys, ciphertexts and shared secrets recorded from the unpatched
// 0.7.1 for fixed seeds, and every hash and SHAKE128 read byte for byte @noble/hashes'.
import crypto, { createHash, randomBytes } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { sha3_256, sha3_512, shake128, shake256 } from '@noble/hashes/sha3.js';
import * as crystals from '@noble/post-quantum/_crystals.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';

/** Fixed test bytes: SHAKE256 of a label. */
const bytes = (label: string, n: number) => Uint8Array.from(createHash('shake256', { outputLength: n }).update(label).digest());
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// From the unpatched @noble/post-quantum 0.7.1: keygen(bytes(`${tag}-seed`, 64)), then
// encapsulate(publicKey, bytes(`${tag}-msg`, 32)); keys and ciphertext as their SHA-256.
const VECTORS = [
  {
    tag: 'fleet-a',
    pk: '3b095e83b1124865aca7d17a8778631ae0e392e57e246131dc86a8c6fc7c406c',
    sk: 'd5051656d026619eca5b9bd5677af3d410dcfe5810dec8e614649a7fa0468092',
    ct: '7c1e36e80a967a59f090c4e058915978445e287c88a738aea734b607d6d1ba01',
    ss: 'f1f533a00c0ee85fdb522f6e63499d0539bfc26389769d14f8fe4f1a229a166e',
  },
  {
    tag: 'fleet-b',
    pk: 'a5c4bcd8f7a17c49cc95b12619965d4d2b14eb8a2fde61f0fa266a9278830d38',
    sk: 'd304f4c738b13758a10bb134c8169a60a4f86e239d0e586c6e15830ab3505b2e',
    ct: '462199b9e4c6468d1a975f2b151b198ef57ceb46c81c43d81637adb9f17437b0',
    ss: '32fc3d9d35eb1c79042b97e2d58e7dfd130f859de9ef09b426af21363b6a500c',
  },
  {
    tag: 'fleet-c',
    pk: 'a6f7076f3fed669529b4b7fe75d42e6a87feac50a6c4d63af21e32f80a077189',
    sk: '95a70ab2e2be21f35e93f467a54332ab289a938b0c15b233cd2bdb6064ed58ea',
    ct: 'f2ec137c783f4c765800f884af62f2e4c7b84fed9dfb39c36ef3b706a72c9897',
    ss: '506fe5a4336fa6f218300000d9bfe0a68c59982403f1a197acecd06fabc1876d',
  },
  {
    tag: 'fleet-d',
    pk: 'fa3a13a22fa2bb743e1c28bb1068a2daadc2c1a721a6d58cbe7654d8a7292d72',
    sk: '63e1c1fcfda2409f863be9357dc88c011f3e6cd38518dd363b9dfca426efbc6a',
    ct: '6c4dfa08b25ed12144ec03340eaae44c3eaba085d5d1325a181042a303530b64',
    ss: '4f3cd6e354ce43193bc5b94b790120d7484285bdf7d295042b432fefd5bbd5d0',
  },
];

type Hasher = { update(b: Uint8Array): Hasher; digest(): Uint8Array };
type Hash = { create(opts?: { dkLen?: number }): Hasher };
type NativeHash = ((msg: Uint8Array, opts?: { dkLen?: number }) => Uint8Array) & Hash;
const native = crystals as unknown as { nativeSha3_256?: NativeHash; nativeSha3_512?: NativeHash; nativeShake256?: NativeHash };

/** The SHA-3 and SHAKE algorithm names Node's createHash is asked for while `fn` runs. */
function nodeHashesDuring(fn: () => void): string[] {
  const real = crypto.createHash;
  const names = new Set<string>();
  crypto.createHash = ((name: string, ...rest: Parameters<typeof real> extends [string, ...infer R] ? R : never) => {
    names.add(name);
    return real(name, ...rest);
  }) as typeof real;
  syncBuiltinESMExports(); // the library's `import { createHash } from 'node:crypto'` sees it
  try {
    fn();
  } finally {
    crypto.createHash = real;
    syncBuiltinESMExports();
  }
  return [...names].filter((n) => /^(sha3|shake)/.test(n)).sort();
}

describe('ML-KEM-768 with native SHA-3', () => {
  it('hashes through Node: SHA3-256, SHA3-512, SHAKE128 and SHAKE256 in a keygen, an encapsulation and a decapsulation', () => {
    const names = nodeHashesDuring(() => {
      const { publicKey, secretKey } = ml_kem768.keygen();
      const { cipherText } = ml_kem768.encapsulate(publicKey);
      ml_kem768.decapsulate(cipherText, secretKey);
    });
    expect(names).toEqual(['sha3-256', 'sha3-512', 'shake128', 'shake256']);
  });

  it('gives the unpatched library\'s keys, ciphertexts and shared secrets for fixed seeds, and decapsulates them', () => {
    for (const v of VECTORS) {
      const { publicKey, secretKey } = ml_kem768.keygen(bytes(`${v.tag}-seed`, 64));
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, bytes(`${v.tag}-msg`, 32));
      expect({ tag: v.tag, pk: sha256(publicKey), sk: sha256(secretKey), ct: sha256(cipherText), ss: hex(sharedSecret) }).toEqual(v);
      expect(hex(ml_kem768.decapsulate(cipherText, secretKey))).toBe(v.ss);
      expect(hex(ml_kem768.getPublicKey(secretKey))).toBe(hex(publicKey));
      // A ciphertext not made for this key is implicitly rejected: SHAKE256(z || c) of FIPS 203, z the secret key's last 32 bytes.
      const forged = Uint8Array.from(cipherText);
      forged[0] ^= 1;
      const z = secretKey.subarray(secretKey.length - 32);
      expect(hex(ml_kem768.decapsulate(forged, secretKey))).toBe(hex(shake256.create({ dkLen: 32 }).update(z).update(forged).digest()));
    }
  });

  it('agrees on the shared secret for fresh random keys', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = ml_kem768.keygen();
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey);
      expect(hex(ml_kem768.decapsulate(cipherText, secretKey))).toBe(hex(sharedSecret));
    }
  });

  it('hashes as @noble/hashes does, for every input and output length ML-KEM uses and more', () => {
    const pairs: [NativeHash | undefined, Hash, number[]][] = [
      [native.nativeSha3_256, sha3_256, [32]],
      [native.nativeSha3_512, sha3_512, [64]],
      [native.nativeShake256, shake256, [1, 32, 64, 128, 135, 136, 137, 192, 500, 1000]],
    ];
    for (const [mine, ref, lens] of pairs) {
      expect(mine).toBeTypeOf('function');
      for (const dkLen of lens) {
        for (const n of [0, 1, 32, 33, 71, 72, 135, 136, 137, 1184, 1600]) {
          const a = bytes(`in-${n}`, n);
          const b = bytes(`in2-${n}`, 7);
          const want = hex(ref.create({ dkLen }).update(a).update(b).digest());
          expect(hex(mine!.create({ dkLen }).update(a).update(b).digest())).toBe(want);
          const one = new Uint8Array([...a, ...b]);
          expect(hex(mine!(one, { dkLen }))).toBe(want);
          expect(mine!(one, { dkLen })).toBeInstanceOf(Uint8Array);
          expect(Buffer.isBuffer(mine!(one, { dkLen }))).toBe(false);
        }
      }
    }
    expect(hex(native.nativeShake256!(bytes('x', 5)))).toBe(hex(shake256(bytes('x', 5)))); // no dkLen: 32 bytes, as @noble/hashes gives
  });

  it('reads SHAKE128 as @noble/hashes squeezes it, block after block, past the first three and across coordinates', () => {
    for (let s = 0; s < 8; s++) {
      const seed = s < 4 ? bytes(`xof-${s}`, 32) : Uint8Array.from(randomBytes(32));
      const x = crystals.XOF128(seed);
      for (const [i, j] of [[0, 0], [2, 1], [1, 2], [255, 255]]) {
        const ref = shake128.create().update(new Uint8Array([...seed, i, j]));
        const read = x.get(i, j);
        for (let block = 0; block < 14; block++) expect(hex(read()), `seed ${s} (${i},${j}) block ${block}`).toBe(hex(ref.xof(168)));
      }
      x.clean();
    }
  });

  it('reads SHAKE128 in any block length and starts over at each get()', () => {
    const seed = bytes('xof-len', 32);
    for (const blockLen of [1, 3, 100, 167, 168, 169, 504, 505, 2000]) {
      const x = crystals.XOF128(seed, blockLen);
      for (const [i, j] of [[1, 0], [0, 1], [1, 0]]) {
        const read = x.get(i, j);
        const stream = hex(shake128(new Uint8Array([...seed, i, j]), { dkLen: blockLen * 9 }));
        let got = '';
        for (let k = 0; k < 9; k++) {
          const b = read();
          expect(b.length).toBe(blockLen);
          got += hex(b);
        }
        expect(got, `blockLen ${blockLen} (${i},${j})`).toBe(stream);
      }
      x.clean();
    }
  });
});
