// `keys scan` as data: probe every selected guest's host keys, judge them against known_hosts, and
// find clone groups (guests presenting the same key). Classification is pure; probing is the I/O.
import { fanout } from '../executor/index.js';
import { pinsOf, probeHostKeys, verify, type ConnectionTarget, type Credentials, type KnownHosts, type PresentedKey, type ProbeOptions, type ProbeType } from '../ssh/index.js';

/** A guest to probe; one behind jump hosts or a ProxyCommand is probed through them. */
export interface ScanTarget extends Partial<Pick<ConnectionTarget, 'user' | 'jump' | 'proxyCommand'>> {
  name: string;
  address: string;
  port: number;
}

/** pinned: every presented key is pinned; changed: some key differs from the pins; revoked: some key is revoked. */
export type PinStatus = 'pinned' | 'unknown' | 'changed' | 'revoked' | 'unreachable';

export interface GuestScan {
  host: string;
  address: string;
  port: number;
  keys: PresentedKey[];
  status: PinStatus;
  /** Per presented key, what known_hosts says of it. */
  verdicts: ('ok' | 'unknown' | 'changed' | 'revoked')[];
  /** 1-based index into the clone groups (largest first), null when the guest's keys are its own. */
  cloneGroup: number | null;
  error?: string;
}

export interface CloneGroup {
  id: number;
  /** Guest names, in scan order. */
  hosts: string[];
  /** Keys shared by the group (each presented by at least two of its guests). */
  keys: PresentedKey[];
}

export interface ScanOptions {
  fanout: number;
  timeoutMs: number;
  types?: readonly ProbeType[];
  signal?: AbortSignal;
  /** How jump hosts are logged into (guests behind one are probed through it): keys, agent. */
  session?: { credentials: Omit<Credentials, 'username'>; identities?: ReadonlyMap<string, Buffer> };
  /** What jump hosts are checked against when not the known_hosts the guests are judged by. */
  hopPins?: KnownHosts;
}

/** The route to probe a guest by, when it is not straight over TCP; its hops pinned by `kh`. */
export function probeVia(t: ScanTarget, kh: KnownHosts, session: ScanOptions['session']): ProbeOptions['via'] {
  if (!t.jump?.length && !t.proxyCommand) return undefined;
  return {
    name: t.name, user: t.user ?? 'fleet-keyscan', jump: t.jump, proxyCommand: t.proxyCommand, knownHosts: kh,
    credentials: session?.credentials ?? {}, identities: session?.identities,
  };
}

/** Judges one guest's presented keys: revoked beats changed beats unknown; all ok is pinned. */
export function pinStatus(kh: KnownHosts, t: ScanTarget, keys: PresentedKey[]): { status: PinStatus; verdicts: GuestScan['verdicts'] } {
  const own = pinsOf(kh, t.address, t.port); // this host's lines, not the whole file per key
  const verdicts = keys.map((k) => verify(own, t.address, t.port, k.keyType, k.key));
  const status: PinStatus = verdicts.includes('revoked') ? 'revoked'
    : verdicts.includes('changed') ? 'changed'
      : verdicts.includes('unknown') ? (verdicts.includes('ok') ? 'changed' : 'unknown')
        : 'pinned';
  return { status, verdicts };
}

/**
 * Groups guests that present the same key (transitively: a shares a key with b, b another with c),
 * largest group first, then by first guest in scan order; sets each scan's `cloneGroup`.
 */
export function cloneGroups(scans: GuestScan[]): CloneGroup[] {
  const parent = scans.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const owners = new Map<string, number[]>();
  scans.forEach((s, i) => {
    for (const k of s.keys) {
      const id = k.key.toString('base64');
      const list = owners.get(id) ?? [];
      if (!list.includes(i)) list.push(i);
      owners.set(id, list);
    }
  });
  for (const list of owners.values()) for (const i of list.slice(1)) parent[find(i)] = find(list[0]!);
  const members = new Map<number, number[]>();
  scans.forEach((_, i) => {
    const root = find(i);
    members.set(root, [...(members.get(root) ?? []), i]);
  });
  const groups = [...members.values()]
    .filter((m) => m.length > 1)
    .sort((a, b) => b.length - a.length || a[0]! - b[0]!);
  for (const s of scans) s.cloneGroup = null;
  return groups.map((m, gi) => {
    const shared = new Map<string, PresentedKey>();
    for (const i of m) {
      scans[i]!.cloneGroup = gi + 1;
      for (const k of scans[i]!.keys) if (owners.get(k.key.toString('base64'))!.length > 1) shared.set(k.key.toString('base64'), k);
    }
    return { id: gi + 1, hosts: m.map((i) => scans[i]!.host), keys: [...shared.values()] };
  });
}

/** Probes every guest (with the executor's fan-out), judges its keys and finds the clone groups. */
export async function scanFleet(targets: ScanTarget[], kh: KnownHosts, o: ScanOptions): Promise<{ scans: GuestScan[]; groups: CloneGroup[] }> {
  const byName = new Map<string, GuestScan>();
  await fanout(
    targets,
    async (t) => {
      const started = Date.now();
      const via = probeVia(t, o.hopPins ?? kh, o.session);
      const r = await probeHostKeys({ address: t.address, port: t.port, timeoutMs: o.timeoutMs, ...(via ? { via } : {}) }, o.types);
      const judged = r.error ? { status: 'unreachable' as const, verdicts: [] } : pinStatus(kh, t, r.keys);
      byName.set(t.name, {
        host: t.name, address: t.address, port: t.port, keys: r.error ? [] : r.keys, ...judged, cloneGroup: null,
        ...(r.error ? { error: `${t.name}: ${r.error.message}` } : {}),
      });
      const ok = !r.error;
      return { host: t.name, address: t.address, status: ok ? 'ok' : r.error!.reason, exitCode: null, stdout: '', stderr: '', changed: false, durationMs: Date.now() - started };
    },
    { fanout: o.fanout, signal: o.signal },
  );
  const scans = targets.map((t) => byName.get(t.name)).filter((s): s is GuestScan => s !== undefined);
  const groups = cloneGroups(scans);
  return { scans, groups };
}
