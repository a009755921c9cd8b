// What a fan-out over hundreds of hosts would otherwise redo per connection: the known_hosts lines
// that can concern a host, and the parsed client key. Used by connection.ts, and by anything that
// checks many hosts against one known_hosts (pinsOf).
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { hashedNameMatcher } from './connection-hashed.js';
import { hostKeyName, type KnownHosts, type KnownHostsLine } from './known-hosts.js';
import { useKeyObjects } from './key-objects.js';

/**
 * A fan-out verifies hundreds of hosts against one file: scanning every line per host is quadratic
 * (1,500 lines x 500 hosts, twice per connection). So each KnownHosts gets an index, built once, of
 * the lines that name a host literally; lines that need matching (wildcards, negations, hashed
 * names) and @revoked lines are checked per host name, once, and the outcome kept. lookup() and
 * verify() then run on that host's few lines, with unchanged semantics. The index is rebuilt when
 * the lines change (addPin appends, removePins replaces the array).
 */
interface PinIndex {
  lines: KnownHostsLine[];
  length: number;
  literal: Map<string, number[]>;
  /** Positions of lines that every host must consider (wildcards, negations, hashed, @revoked). */
  general: number[];
  perHost: Map<string, KnownHosts>;
}
const pinIndexes = new WeakMap<KnownHosts, PinIndex>();

function pinIndex(kh: KnownHosts): PinIndex {
  const cached = pinIndexes.get(kh);
  if (cached && cached.lines === kh.lines && cached.length === kh.lines.length) return cached;
  const ix: PinIndex = { lines: kh.lines, length: kh.lines.length, literal: new Map(), general: [], perHost: new Map() };
  kh.lines.forEach((l, i) => {
    // Lines whose key is unusable stay with their host: its "not pinned" error names them.
    const names = l.kind === 'entry' ? l : l.ignored;
    if (!names) return;
    if ((l.kind === 'entry' && l.marker === 'revoked') || names.hashed || names.patterns.some((p) => /[*?!]/.test(p))) {
      ix.general.push(i);
      return;
    }
    for (const name of new Set(names.patterns.map((p) => p.toLowerCase()))) ix.literal.set(name, [...(ix.literal.get(name) ?? []), i]);
  });
  pinIndexes.set(kh, ix);
  return ix;
}

/** The part of `kh` that can matter for one host: same verdicts from lookup() and verify(). */
export function pinsOf(kh: KnownHosts, host: string, port: number): KnownHosts {
  const ix = pinIndex(kh);
  const name = hostKeyName(host, port);
  let sub = ix.perHost.get(name);
  if (!sub) {
    // Prepared only when a line needs it: most files hash no names.
    let matches: ReturnType<typeof hashedNameMatcher> | undefined;
    const keep = ix.general.filter((i) => {
      const l = ix.lines[i]!;
      const hashed = l.kind === 'entry' ? (l.marker === 'revoked' ? undefined : l.hashed) : l.ignored?.hashed;
      if (!hashed) return true;
      // Drop hashed lines of other hosts here, so the HMAC is computed once per line and host.
      return (matches ??= hashedNameMatcher(name))(hashed.salt, hashed.hash);
    });
    const positions = [...(ix.literal.get(name) ?? []), ...keep].sort((a, b) => a - b);
    sub = { ...kh, lines: positions.map((i) => ix.lines[i]!) };
    ix.perHost.set(name, sub);
  }
  return sub;
}

/**
 * A client key parsed once per run, not once per connection; it signs through a KeyObject
 * (key-objects.ts), not ssh2's PEM text.
 */
const authKeys = new WeakMap<Buffer, ParsedKey>();
export function authKey(privateKey: Buffer): ParsedKey {
  const cached = authKeys.get(privateKey);
  if (cached) return cached;
  useKeyObjects();
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`cannot parse the private key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  authKeys.set(privateKey, key);
  return key;
}
