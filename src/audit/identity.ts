// Identity hazards cloning leaves behind: host keys, machine-ids and hostnames shared by guests, keys
// that differ from (or are revoked in) the admin's known_hosts, pins no guest presents any more, and
// an sshd offering no post-quantum key exchange.
import { cloneGroups, type GuestScan } from '../hostkeys/index.js';
import { fingerprintSha256 } from '../ssh/index.js';
import { HOSTNAME, MACHINE_IDS } from './guest-script.js';
import type { Finding, GuestAudit, GuestFacts } from './model.js';

type Guest = { host: string; facts: GuestFacts };

/** One group of guests per value held by more than one. */
function shared<T>(items: readonly { host: string; value: T | undefined }[], key: (v: T) => string): { value: T; hosts: string[] }[] {
  const byKey = new Map<string, { value: T; hosts: string[] }>();
  for (const { host, value } of items) {
    if (value === undefined) continue;
    const k = key(value);
    const e = byKey.get(k) ?? { value, hosts: [] };
    if (!e.hosts.includes(host)) e.hosts.push(host);
    byKey.set(k, e);
  }
  return [...byKey.values()].filter((e) => e.hosts.length > 1);
}

/** Guests presenting the same host key (the scan's clone groups). */
export function sharedKeyFindings(guests: readonly GuestAudit[]): Finding[] {
  const scans: GuestScan[] = guests.filter((g) => g.keys).map((g) => ({
    host: g.host, address: g.address, port: 0, keys: g.keys!.presented, status: 'unknown', verdicts: [], cloneGroup: null,
  }));
  return cloneGroups(scans).map((grp) => ({
    check: 'shared-host-key', severity: 'critical', hosts: grp.hosts,
    data: { keys: grp.keys.map((k) => ({ type: k.keyType, fingerprint: k.fingerprint })) },
    title: `${grp.hosts.length} guests present the same SSH host key: any of them can impersonate the others`,
    remedy: 'fleet keys rotate --cloned-only (or playbooks/rotate-host-keys.yaml)',
    details: grp.keys.map((k) => `${k.keyType} ${k.fingerprint}`),
  }));
}

/** Guests presenting a key known_hosts revokes, or keys that differ from every pin of their type. */
export function pinVerdictFindings(guests: readonly GuestAudit[]): Finding[] {
  const revoked = guests.filter((g) => g.keys?.verdicts.includes('revoked')).map((g) => g.host);
  const changed = guests.filter((g) => !g.keys?.verdicts.includes('revoked') && g.keys?.verdicts.includes('changed')).map((g) => g.host);
  const out: Finding[] = [];
  if (revoked.length > 0) {
    out.push({
      check: 'revoked-host-key', severity: 'critical', hosts: revoked,
      title: 'guests present a host key known_hosts marks @revoked (a retired golden key: a new clone or a restored snapshot)',
      remedy: "fleet keys rotate --console CMD (new keys through the console, never over SSH)", details: [],
    });
  }
  if (changed.length > 0) {
    out.push({
      check: 'changed-host-key', severity: 'critical', hosts: changed,
      title: 'guests present a host key that differs from the one pinned (a man in the middle, or keys changed behind fleet\'s back)',
      remedy: 'check through another channel, then fleet keys trust --replace --confirm-with CMD', details: [],
    });
  }
  return out;
}

/** Pins of keys the guest no longer presents (it answered the scan, with other keys). */
export function stalePinFindings(guests: readonly GuestAudit[]): Finding[] {
  const stale: { host: string; line: number; type: string; fingerprint: string; file?: string }[] = [];
  for (const g of guests) {
    if (!g.keys || g.keys.presented.length === 0) continue;
    for (const p of g.pins) {
      if (g.keys.presented.some((k) => k.key.equals(p.key))) continue;
      stale.push({ host: g.host, line: p.line, type: p.keyType, fingerprint: fingerprintSha256(p.key), file: g.knownHostsFile });
    }
  }
  if (stale.length === 0) return [];
  const hosts = [...new Set(stale.map((s) => s.host))];
  const where = (s: (typeof stale)[number]) => `${s.file ?? 'known_hosts'}:${s.line}`;
  return [{
    check: 'stale-pin', severity: 'medium', hosts,
    data: { pins: stale.map((s) => ({ host: s.host, file: s.file, line: s.line, type: s.type, fingerprint: s.fingerprint })) },
    title: `${stale.length} key${stale.length === 1 ? '' : 's'} pinned in known_hosts ${stale.length === 1 ? 'is' : 'are'} no longer presented by the guest`,
    remedy: 'delete those known_hosts lines (they would let whoever holds the old key pass as the guest); fleet keys scan shows what is presented',
    details: [...stale.slice(0, 10).map((s) => `${where(s)}: ${s.host} ${s.type} ${s.fingerprint}`), ...(stale.length > 10 ? [`... and ${stale.length - 10} more`] : [])],
  }];
}

const validId = (text: string | undefined) => {
  const v = text?.trim();
  return v && v !== 'uninitialized' ? v : undefined;
};

/** Guests sharing a machine-id (in /etc/machine-id or the D-Bus copy), one finding per shared value. */
export function machineIdFindings(guests: readonly Guest[]): Finding[] {
  const items = guests.flatMap((g) => MACHINE_IDS.map((path) => ({ host: g.host, value: validId(g.facts.files.get(path)), path })));
  return shared(items.map((i) => ({ host: i.host, value: i.value })), (v) => v).map(({ value, hosts }) => {
    const paths = [...new Set(items.filter((i) => i.value === value).map((i) => i.path))];
    return {
      check: 'shared-machine-id', severity: 'high', hosts, data: { machineId: value, files: paths },
      title: `${hosts.length} guests share one machine-id (one DHCP lease, one journal identity, one "random" timer offset)`,
      remedy: 'playbooks/unique-identity.yaml',
      details: [`${paths.join(' and ')}: ${value}`],
    };
  });
}

/** The name the guest boots with: /etc/hostname's first line, else the running node name. */
export function hostnameOf(facts: GuestFacts): string | undefined {
  const line = facts.files.get(HOSTNAME)?.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  return line || facts.nodename || undefined;
}

export function hostnameFindings(guests: readonly Guest[]): Finding[] {
  return shared(guests.map((g) => ({ host: g.host, value: hostnameOf(g.facts) })), (v) => v).map(({ value, hosts }) => ({
    check: 'shared-hostname', severity: 'medium', hosts, data: { hostname: value },
    title: `${hosts.length} guests are named '${value}' (the golden image's name?)`,
    remedy: "name each guest after its inventory entry: fleet run --sudo -- 'hostnamectl set-hostname NAME' (or first-boot customization)",
    details: [],
  }));
}

/** Post-quantum hybrid key exchanges (OpenSSH 9.0+ sntrup761, 9.9+ ML-KEM). */
export const isPostQuantumKex = (name: string) => /^(mlkem|sntrup)/.test(name);

export function kexFindings(guests: readonly GuestAudit[]): Finding[] {
  const hosts = guests.filter((g) => g.kex && !g.kex.some(isPostQuantumKex)).map((g) => g.host);
  if (hosts.length === 0) return [];
  const example = guests.find((g) => g.host === hosts[0])!.kex!;
  return [{
    check: 'no-pq-kex', severity: 'low', hosts, data: { offered: example },
    title: 'sshd offers no post-quantum key exchange (recorded sessions could be decrypted later; OpenSSH 10.1 warns)',
    remedy: 'upgrade OpenSSH to 9.9+ (mlkem768x25519-sha256) or list it first in sshd_config KexAlgorithms',
    details: [`offered (${hosts[0]}): ${example.join(',')}`],
  }];
}
