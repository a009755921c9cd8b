// Retiring a cloned key: once nothing in known_hosts pins it any more (every guest that shared it
// was rotated), it is marked `@revoked *`, so a host still presenting it, or anyone impersonating a
// guest with the golden image's key, is refused from then on.
import { addRevoked, fingerprintSha256, type KnownHosts, type KnownHostsEntry } from '../ssh/index.js';
import type { KnownHostsWriter } from './kh-writer.js';
import type { KeyRef } from './pins.js';

/** Lines that still pin the key for some host (not @revoked or @cert-authority lines). */
export function pinsOfKey(kh: KnownHosts, key: Buffer): KnownHostsEntry[] {
  return kh.lines.filter((l): l is KnownHostsEntry => l.kind === 'entry' && l.marker === undefined && l.key.equals(key));
}

export function isRevoked(kh: KnownHosts, key: Buffer): boolean {
  return kh.lines.some((l) => l.kind === 'entry' && l.marker === 'revoked' && l.key.equals(key));
}

export interface RetireResult {
  revoked: KeyRef[];
  /** Shared keys left alone because known_hosts still pins them (guests not rotated yet). */
  kept: { key: KeyRef; pins: number }[];
}

/** Revokes each shared key that no line pins any more; one locked write. */
export function retireSharedKeys(writer: KnownHostsWriter, shared: KeyRef[]): Promise<RetireResult> {
  return writer.edit((kh) => {
    const result: RetireResult = { revoked: [], kept: [] };
    for (const k of shared) {
      if (isRevoked(kh, k.key)) continue;
      const pins = pinsOfKey(kh, k.key).length;
      if (pins > 0) result.kept.push({ key: k, pins });
      else if (addRevoked(kh, k.keyType, k.key, { comment: `cloned key retired by fleet keys rotate ${fingerprintSha256(k.key)}` })) result.revoked.push(k);
    }
    return result;
  });
}
