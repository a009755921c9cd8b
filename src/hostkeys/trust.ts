// `keys trust` as data: which guests to enrol (unknown), which changed keys could be replaced, which
// are refused outright (revoked); then one locked known_hosts edit that re-checks before it writes.
import { addPin, lookup, pinsOf, removePins, updateKnownHosts, verify, fingerprintSha256, type KnownHosts } from '../ssh/index.js';
import type { GuestScan } from './scan.js';
import { fanout } from '../executor/index.js';
import { confirmKeys, type Confirmation, type ConfirmTarget } from './confirm.js';

export interface TrustPlan {
  /** Unknown guests: nothing pinned yet. */
  enrol: GuestScan[];
  /** Guests presenting keys other than their pins: replaced only on request. */
  changed: { scan: GuestScan; pinned: string[] }[];
  /** Guests presenting a revoked key: never pinned. */
  revoked: GuestScan[];
  /** Already pinned, or unreachable: nothing to do. */
  pinned: GuestScan[];
  unreachable: GuestScan[];
}

/** `ssh-ed25519 SHA256:...` for each pin the file holds for a host. */
export function pinnedFingerprints(kh: KnownHosts, address: string, port: number): string[] {
  return lookup(pinsOf(kh, address, port), address, port).pinned.map((p) => `${p.keyType} ${fingerprintSha256(p.key)}`);
}

export function planTrust(scans: GuestScan[], kh: KnownHosts): TrustPlan {
  const plan: TrustPlan = { enrol: [], changed: [], revoked: [], pinned: [], unreachable: [] };
  for (const s of scans) {
    if (s.status === 'unknown') plan.enrol.push(s);
    else if (s.status === 'changed') plan.changed.push({ scan: s, pinned: pinnedFingerprints(kh, s.address, s.port) });
    else if (s.status === 'revoked') plan.revoked.push(s);
    else if (s.status === 'unreachable') plan.unreachable.push(s);
    else plan.pinned.push(s);
  }
  return plan;
}

/**
 * Keeps the guests whose presented keys a command (a console, a guest agent, a cloud API: see
 * confirmKeys) shows through another channel; the others are refused with the reason.
 */
export async function confirmScans(
  command: string, scans: GuestScan[], o: { fanout: number; timeoutMs: number; targetOf: (s: GuestScan) => ConfirmTarget },
): Promise<{ confirmed: GuestScan[]; refused: { scan: GuestScan; message: string }[] }> {
  const verdicts = new Map<string, Confirmation>();
  await fanout(
    scans.map((scan) => ({ name: scan.host, address: scan.address, scan })),
    async ({ scan: s }) => {
      const c = await confirmKeys(command, o.targetOf(s), s.keys, { timeoutMs: o.timeoutMs, what: 'keys' });
      verdicts.set(s.host, c);
      return { host: s.host, address: s.address, status: c.ok ? 'ok' : 'failed', exitCode: null, stdout: '', stderr: '', changed: false, durationMs: 0 };
    },
    { fanout: o.fanout },
  );
  const confirmed: GuestScan[] = [];
  const refused: { scan: GuestScan; message: string }[] = [];
  for (const s of scans) {
    const c = verdicts.get(s.host)!;
    if (c.ok) confirmed.push(s);
    else refused.push({ scan: s, message: c.message });
  }
  return { confirmed, refused };
}

export interface TrustResult {
  /** Guests whose keys were pinned (enrolled or replaced). */
  pinned: string[];
  /** Guests skipped because known_hosts changed since the scan (someone else pinned them). */
  skipped: string[];
  keysAdded: number;
}

/**
 * Pins the scanned keys of `enrol` (still unknown) and, when given, replaces the pins of `replace`
 * (still showing exactly the scanned keys as changed). One read-modify-write under the file's lock:
 * a guest whose state moved since the scan is left alone.
 */
export async function applyTrust(path: string, enrol: GuestScan[], replace: GuestScan[], o: { hash?: boolean } = {}): Promise<TrustResult> {
  return updateKnownHosts(path, (kh) => {
    const result: TrustResult = { pinned: [], skipped: [], keysAdded: 0 };
    const pin = (s: GuestScan) => {
      for (const k of s.keys) if (addPin(kh, s.address, s.port, k.keyType, k.key, { hashed: o.hash })) result.keysAdded++;
      result.pinned.push(s.host);
    };
    const now = (s: GuestScan) => {
      const own = pinsOf(kh, s.address, s.port);
      return s.keys.map((k) => verify(own, s.address, s.port, k.keyType, k.key));
    };
    for (const s of enrol) {
      if (s.keys.length > 0 && now(s).every((v) => v === 'unknown')) pin(s);
      else result.skipped.push(s.host);
    }
    for (const s of replace) {
      const v = now(s);
      if (s.keys.length === 0 || v.includes('revoked') || !v.includes('changed')) {
        result.skipped.push(s.host);
        continue;
      }
      removePins(kh, s.address, s.port);
      pin(s);
    }
    return result;
  });
}
