// ssh2 hands OpenSSL a key's PEM text for every signature and every verification, so OpenSSL parses
// the key again each time: 0.30 of the 0.33 ms an ed25519 signature costs. useKeyObjects() makes all
// ssh2 keys (parsed by ssh2.utils.parseKey or inside ssh2's Client and Server) sign and verify
// through a KeyObject parsed once per PEM. The client signs once per connection; the emulator signs
// with its host key and verifies the client's signature once per login, 500 times a fleet-wide run.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';

/** The hash a key type signs with when the caller names none (RFC 5656, RFC 8709; plain ssh-rsa: SHA-1). */
const DEFAULT_HASH: Record<string, string | null> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'ssh-rsa': 'sha1',
};

/** Enough for every distinct key a run or an emulator sees; cleared whole when full. */
const MAX_CACHED = 10_000;
const cache = new Map<string, KeyObject>();

function keyObject(pem: string, make: (pem: string) => KeyObject): KeyObject {
  let k = cache.get(pem);
  if (!k) {
    if (cache.size >= MAX_CACHED) cache.clear();
    k = make(pem);
    cache.set(pem, k);
  }
  return k;
}

// A public key in OpenSSH format: parsing it yields an object of ssh2's shared key prototype.
const PROBE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJuEpAG416Fop55Jckgl652gF7LVfoixxy2b6XzBA0ma probe';
const INSTALLED = Symbol.for('clonefleet.keyObjects');

type KeyMethods = Pick<ParsedKey, 'sign' | 'verify' | 'type' | 'getPrivatePEM' | 'getPublicPEM' | 'getPublicSSH'>;

/**
 * The public key to verify with. An Ed25519 key (every guest's host key is one, shown once per
 * connection) goes to OpenSSL as a JWK of its raw 32 bytes: ~15 us against ~100 us for decoding
 * its PEM. Other types, and anything unexpected, go by the PEM.
 */
function publicKeyObject(key: KeyMethods, pem: string): KeyObject {
  return keyObject(pem, () => {
    const blob = key.type === 'ssh-ed25519' ? key.getPublicSSH() : undefined;
    // string "ssh-ed25519" (4 + 11 bytes), string key (4 + 32 bytes)
    if (blob?.length === 51) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: blob.subarray(19).toString('base64url') }, format: 'jwk' });
    return createPublicKey(pem);
  });
}

/** Installs the KeyObject path on ssh2's key prototype; idempotent. */
export function useKeyObjects(): void {
  const probe = ssh2.utils.parseKey(PROBE);
  if (probe instanceof Error) throw new Error(`internal: cannot parse the probe key: ${probe.message}`);
  const proto = Object.getPrototypeOf(Array.isArray(probe) ? probe[0] : probe) as KeyMethods & { [INSTALLED]?: true };
  if (proto[INSTALLED]) return;
  const viaPemSign = proto.sign;
  const viaPemVerify = proto.verify;
  proto.sign = function (this: KeyMethods, data: Buffer, algo?: string) {
    const hash = typeof algo === 'string' && algo ? algo : DEFAULT_HASH[this.type];
    const pem = this.getPrivatePEM();
    if (hash === undefined || !pem) return viaPemSign.call(this, data, algo);
    try {
      return sign(hash, data, keyObject(pem, createPrivateKey));
    } catch (err) {
      return err as Error;
    }
  } as ParsedKey['sign'];
  proto.verify = function (this: KeyMethods, data: Buffer, signature: Buffer, algo?: string) {
    const hash = typeof algo === 'string' && algo ? algo : DEFAULT_HASH[this.type];
    const pem = this.getPublicPEM();
    if (hash === undefined || !pem) return viaPemVerify.call(this, data, signature, algo);
    try {
      return verify(hash, data, publicKeyObject(this, pem), signature);
    } catch (err) {
      return err as Error;
    }
  } as ParsedKey['verify'];
  proto[INSTALLED] = true;
}
