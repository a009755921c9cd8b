// known_hosts edits the host-key flows need beyond src/ssh: which lines pin a host (hashed or not),
// unpinning one host's keys without touching other hosts named on the same line (removePins does the
// line editing), and small in-memory files that pin a host to an exact set of keys (what a connection
// is checked against).
import { hostKeyName, namesHost, parseKnownHosts, removePins, type KnownHosts, type KnownHostsEntry } from '../ssh/index.js';

export interface KeyRef {
  /** Key type as in known_hosts (`ssh-ed25519`). */
  keyType: string;
  key: Buffer;
}

function isEntry(l: KnownHosts['lines'][number]): l is KnownHostsEntry {
  return l.kind === 'entry';
}

/** Unmarked entries that name the host itself, hashed or not: the lines removePins would edit or drop. */
export function pinLines(kh: KnownHosts, host: string, port: number): KnownHostsEntry[] {
  const name = hostKeyName(host, port);
  return kh.lines.filter(isEntry).filter((e) => e.marker === undefined && namesHost(e, name));
}

/** Whether the host's existing pins are written hashed (new pins should follow suit). */
export function pinsAreHashed(kh: KnownHosts, host: string, port: number): boolean {
  return pinLines(kh, host, port).some((e) => e.hashed !== undefined);
}

/**
 * Removes the given keys from the host's pins; returns how many pins went (lines dropped or edited).
 * A line naming several hosts (`a,b ssh-ed25519 KEY`) loses only this host's name, so the others
 * stay pinned; wildcard and marker lines stay. See removePins, which does the editing.
 */
export function unpinKeys(kh: KnownHosts, host: string, port: number, keys: Buffer[]): number {
  // Each line holds one key, so a line is edited by at most one of these calls.
  return keys.reduce((n, key) => n + removePins(kh, host, port, { key }), 0);
}

/** A known_hosts held in memory that pins exactly these keys for the host, nothing else. */
export function pinsOnly(host: string, port: number, keys: KeyRef[]): KnownHosts {
  const name = hostKeyName(host, port);
  const text = keys.map((k) => `${name} ${k.keyType} ${k.key.toString('base64')}\n`).join('');
  return parseKnownHosts(text, `<pins of ${name}>`);
}
