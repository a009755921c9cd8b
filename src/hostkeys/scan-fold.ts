// Guests whose scan reads the same (same keys, same pin status, same clone group, or the same reason
// for being unreachable) as one block, so 300 clones holding the golden keys are one entry, not 300.
import type { GuestScan } from './scan.js';

export interface ScanBlock {
  /** Guest names and addresses, in scan order. */
  hosts: string[];
  addresses: string[];
  /** What every guest of the block showed (the first one's scan, its error without the guest name). */
  status: GuestScan['status'];
  cloneGroup: number | null;
  keys: GuestScan['keys'];
  error?: string;
}

/** The error as it reads for any guest: without the guest's name, its address written `<address>`. */
function reason(s: GuestScan): string | undefined {
  if (s.error === undefined) return undefined;
  const bare = s.error.startsWith(`${s.host}: `) ? s.error.slice(s.host.length + 2) : s.error;
  return bare.split(s.address).join('<address>');
}

/** Blocks in order of their first guest; guests fold when everything shown but their names is equal. */
export function foldScans(scans: GuestScan[]): ScanBlock[] {
  const blocks = new Map<string, ScanBlock>();
  for (const s of scans) {
    const error = reason(s);
    const id = JSON.stringify([s.status, s.cloneGroup, s.keys.map((k) => `${k.keyType} ${k.key.toString('base64')}`), error ?? null]);
    const b = blocks.get(id);
    if (b) {
      b.hosts.push(s.host);
      b.addresses.push(s.address);
    } else {
      blocks.set(id, { hosts: [s.host], addresses: [s.address], status: s.status, cloneGroup: s.cloneGroup, keys: s.keys, ...(error ? { error } : {}) });
    }
  }
  return [...blocks.values()];
}
