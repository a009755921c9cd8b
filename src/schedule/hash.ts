// Frozen hash primitives behind every slot plan and every H field; see plan.ts and hashed.ts for the keys.
//
// These must never change: a different output reshuffles every guest's crontab on upgrade (Puppet's
// fqdn_rand once did exactly that and restarted services fleet-wide). SHA-256 is fixed by FIPS 180-4
// and Node's crypto, so the only thing we own is how the key strings are spelt and read back.
import { createHash } from 'node:crypto';

/** The first 8 bytes of SHA-256(UTF-8 of `key`), read as a big-endian unsigned 64-bit integer. */
export function hash64(key: string): bigint {
  return createHash('sha256').update(key, 'utf8').digest().readBigUInt64BE(0);
}

/** hash64(key) mod n, for 1 <= n; the modulo bias over 2^64 is far below anything observable. */
export function hashMod(key: string, n: number): number {
  return Number(hash64(key) % BigInt(n));
}
