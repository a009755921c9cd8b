// known_hosts edits the host-key flows need beyond src/ssh: which lines pin a host (hashed or not),
// unpinning one host's keys without touching other hosts named on the same line, and small
// in-memory files that pin a host to an exact set of keys (what a connection is checked against).
import { createHmac } from 'node:crypto';
import { hostKeyName, parseKnownHosts, type KnownHosts, type KnownHostsEntry } from '../ssh/index.js';

export interface KeyRef {
  /** Key type as in known_hosts (`ssh-ed25519`). */
  keyType: string;
  key: Buffer;
}

function isEntry(l: KnownHosts['lines'][number]): l is KnownHostsEntry {
  return l.kind === 'entry';
}

/** Whether a plain (unmarked) entry names this host literally, as OpenSSH would write it. */
function namesHost(e: KnownHostsEntry, name: string): boolean {
  if (e.hashed) return createHmac('sha1', e.hashed.salt).update(name).digest().equals(e.hashed.hash);
  return e.patterns.some((p) => p.toLowerCase() === name);
}

/** Plain entries that name the host literally (wildcard lines are policy, not this host's pins). */
export function pinLines(kh: KnownHosts, host: string, port: number): KnownHostsEntry[] {
  const name = hostKeyName(host, port);
  return kh.lines.filter(isEntry).filter((e) => e.marker === undefined && namesHost(e, name));
}

/** Whether the host's existing pins are written hashed (new pins should follow suit). */
export function pinsAreHashed(kh: KnownHosts, host: string, port: number): boolean {
  return pinLines(kh, host, port).some((e) => e.hashed !== undefined);
}

/**
 * Removes the given keys from the host's pins; returns how many pins went. A line naming several
 * hosts (`a,b ssh-ed25519 KEY`) loses only this host's name, so the others stay pinned.
 */
export function unpinKeys(kh: KnownHosts, host: string, port: number, keys: Buffer[]): number {
  const name = hostKeyName(host, port);
  let removed = 0;
  const out: KnownHosts['lines'] = [];
  for (const l of kh.lines) {
    if (!isEntry(l) || l.marker !== undefined || !keys.some((k) => k.equals(l.key)) || !namesHost(l, name)) {
      out.push(l);
      continue;
    }
    removed++;
    const rest = l.hashed ? [] : l.patterns.filter((p) => p.toLowerCase() !== name);
    if (rest.length === 0 || rest.every((p) => p.startsWith('!'))) continue;
    const eol = /\r?\n$/.exec(l.raw)?.[0] ?? '';
    const text = `${rest.join(',')} ${l.keyType} ${l.key.toString('base64')}${l.comment ? ` ${l.comment}` : ''}${eol}`;
    const parsed = parseKnownHosts(text, kh.file).lines[0]!;
    out.push({ ...parsed, line: l.line });
  }
  kh.lines = out;
  return removed;
}

/** A known_hosts held in memory that pins exactly these keys for the host, nothing else. */
export function pinsOnly(host: string, port: number, keys: KeyRef[]): KnownHosts {
  const name = hostKeyName(host, port);
  const text = keys.map((k) => `${name} ${k.keyType} ${k.key.toString('base64')}\n`).join('');
  return parseKnownHosts(text, `<pins of ${name}>`);
}
