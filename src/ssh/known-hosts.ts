// OpenSSH known_hosts as data (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): parse, match, verify, edit, re-serialize.
import { createHmac, randomBytes } from 'node:crypto';
import { InputError } from '../core/errors.js';
import { fingerprintSha256, keyTypeOfBlob } from './fingerprint.js';
import { keyBlobProblem } from './key-blob.js';

export type Marker = 'revoked' | 'cert-authority';

/** A line we understood. `raw` is its exact text with its terminator, so unchanged lines re-serialize as read. */
export interface KnownHostsEntry {
  kind: 'entry';
  /** 1-based line number where it was read; 0 for lines added in memory. */
  line: number;
  raw: string;
  marker?: Marker;
  /** The comma-separated patterns; empty when the name is hashed. */
  patterns: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
  comment: string;
}

/** Blank lines, comments and lines we do not understand: kept byte for byte, never interpreted. */
export interface KnownHostsOther {
  kind: 'other';
  line: number;
  raw: string;
  /**
   * An entry whose host names are fine but whose key cannot be used (truncated, bad base64...): never
   * a pin, but named in a host's "not pinned" error so the admin finds the line.
   */
  ignored?: HostNames & { message: string };
}

/** How a line names its hosts: comma-separated patterns, or one hashed name. */
export interface HostNames {
  patterns: string[];
  hashed?: { salt: Buffer; hash: Buffer };
}

export type KnownHostsLine = KnownHostsEntry | KnownHostsOther;

export interface KnownHostsWarning {
  file: string;
  line: number;
  message: string;
}

export interface KnownHosts {
  file: string;
  lines: KnownHostsLine[];
  /** Lines that look like entries but cannot be used (bad base64, bad hash, unknown marker...). */
  warnings: KnownHostsWarning[];
  /** How to turn the text back into bytes: latin1 when the file was not valid UTF-8, so no byte changes. */
  encoding: 'utf8' | 'latin1';
}

export interface PinnedKey {
  keyType: string;
  key: Buffer;
  line: number;
}

export interface HostKeyLookup {
  /** Plain keys whose patterns match the host, minus revoked ones. */
  pinned: PinnedKey[];
  /** Plain keys whose patterns match the host but that are revoked: never accepted, yet still the host's
   * key types when choosing which key to ask for (as OpenSSH does, so a revoked key shows as refused). */
  revokedPins: PinnedKey[];
  /** Base64 of every key blob marked @revoked, whatever host it names: a revoked key is refused everywhere. */
  revoked: Set<string>;
  /** @cert-authority keys whose patterns match the host. */
  certAuthorities: PinnedKey[];
  /** Lines meant for the host whose key cannot be used (truncated...): `file:line: why`. */
  ignored: string[];
}

export type HostKeyVerdict = 'ok' | 'unknown' | 'changed' | 'revoked';

const ENTRY = /^[ \t]*(?:(@\S*)[ \t]+)?(\S+)[ \t]+(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_TYPE = /^[A-Za-z][A-Za-z0-9@._+-]*$/;
// Anything but tab, LF, VT, FF, CR and ESC below 0x20 means this is not a text file.
const BINARY = /[\x00-\x08\x0e-\x1a\x1c-\x1f]/;

/** Parse a known_hosts file. Unusable entry-like lines become warnings; only binary data throws. */
export function parseKnownHosts(data: string | Buffer, file = '<known_hosts>'): KnownHosts {
  let text: string;
  let encoding: KnownHosts['encoding'] = 'utf8';
  if (typeof data === 'string') {
    text = data;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
    } catch {
      text = data.toString('latin1');
      encoding = 'latin1';
    }
  }
  const binary = BINARY.exec(text);
  if (binary) {
    const line = text.slice(0, binary.index).split('\n').length;
    throw new InputError('not a known_hosts file: binary data', { file, line });
  }
  const kh: KnownHosts = { file, lines: [], warnings: [], encoding };
  (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).forEach((raw, i) => {
    const parsed = parseLine(raw, i + 1);
    if (typeof parsed === 'string') {
      kh.warnings.push({ file, line: i + 1, message: parsed });
      kh.lines.push({ kind: 'other', line: i + 1, raw });
    } else {
      if (parsed.kind === 'other' && parsed.ignored) kh.warnings.push({ file, line: i + 1, message: `${parsed.ignored.message}; ignored, not a pin` });
      kh.lines.push(parsed);
    }
  });
  return kh;
}

/** The file's bytes as text; lines never touched are exactly as read. */
export function serializeKnownHosts(kh: KnownHosts): string {
  return kh.lines.map((l) => l.raw).join('');
}

/** An entry, an `other` line, or a string saying why an entry-like line is unusable. */
function parseLine(raw: string, line: number): KnownHostsLine | string {
  const content = raw.replace(/\r?\n$/, '').replace(/\r$/, '');
  const trimmed = content.replace(/^[ \t]+/, '');
  if (trimmed === '' || trimmed.startsWith('#')) return { kind: 'other', line, raw };
  const m = ENTRY.exec(content);
  if (!m) return 'not a known_hosts entry: expected host patterns, key type and key';
  const [, markerText, hostField, keyType, keyText, comment = ''] = m;
  // `@revoked ssh-ed25519 KEY` has a marker but no hosts; the regex would read the marker as a host.
  if (markerText === undefined && hostField.startsWith('@')) return `marker '${hostField}' without host patterns`;
  let marker: Marker | undefined;
  if (markerText !== undefined) {
    if (markerText !== '@revoked' && markerText !== '@cert-authority') return `unknown marker '${markerText}'`;
    marker = markerText === '@revoked' ? 'revoked' : 'cert-authority';
  }
  if (/^\d+$/.test(keyType)) return 'SSH-1 RSA key (not supported)';
  if (!KEY_TYPE.test(keyType)) return `bad key type '${keyType}'`;
  let names: HostNames;
  if (hostField.startsWith('|')) {
    const hashed = parseHashed(hostField);
    if (!hashed) return 'bad hashed host name (expected |1|salt|hash)';
    names = { patterns: [], hashed };
  } else {
    names = { patterns: hostField.split(',') };
  }
  const key = BASE64.test(keyText) ? Buffer.from(keyText, 'base64') : undefined;
  const problem = key ? keyProblem(keyType, key) : 'bad base64 in key';
  if (problem) return { kind: 'other', line, raw, ignored: { ...names, message: problem } };
  const entry: KnownHostsEntry = { kind: 'entry', line, raw, ...names, keyType, key: key!, comment };
  if (marker) entry.marker = marker;
  return entry;
}

/** Why a key of `keyType` cannot be used, or null. */
function keyProblem(keyType: string, key: Buffer): string | null {
  const inner = keyTypeOfBlob(key);
  if (inner === null) return 'key is not an SSH public key blob';
  if (inner !== keyType) return `key type '${keyType}' does not match the key's own type '${inner}'`;
  return keyBlobProblem(keyType, key);
}

function parseHashed(field: string): { salt: Buffer; hash: Buffer } | null {
  const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(field);
  if (!m || !BASE64.test(m[1]) || !BASE64.test(m[2])) return null;
  const salt = Buffer.from(m[1], 'base64');
  const hash = Buffer.from(m[2], 'base64');
  // OpenSSH only accepts a SHA-1-sized salt and hash.
  return salt.length === 20 && hash.length === 20 ? { salt, hash } : null;
}

/** The name OpenSSH looks up: the bare (lowercased) host on port 22, `[host]:port` on any other port. */
export function hostKeyName(host: string, port = 22): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** `|1|salt|hmac`: HMAC-SHA1 of the name keyed by a (random) 20-byte salt, as `ssh-keygen -H` writes. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

/** OpenSSH's match_pattern: `*` any run, `?` one character, everything else literal. */
function globMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** 1 when a pattern matches, -1 when a negated one does (it vetoes the whole line), else 0. */
function matchPatterns(name: string, patterns: string[]): 1 | 0 | -1 {
  let result: 1 | 0 = 0;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    if (globMatch(name, (negated ? p.slice(1) : p).toLowerCase())) {
      if (negated) return -1;
      result = 1;
    }
  }
  return result;
}

/** Whether an entry applies to `name` (from hostKeyName), wildcards and negations included. */
function entryMatches(entry: HostNames, name: string): boolean {
  if (entry.hashed) return createHmac('sha1', entry.hashed.salt).update(name).digest().equals(entry.hashed.hash);
  return matchPatterns(name, entry.patterns) === 1;
}

/**
 * Whether an entry names `name` (from hostKeyName) itself: a hashed name that is `name`, or a pattern
 * list holding `name` verbatim (any case) with no negation vetoing it. Lines reaching the host only
 * through a wildcard are policy for many hosts, not this host's pin, so they do not count; nor does
 * a `name` holding pattern characters (it is no single host). Markers are not looked at.
 */
export function namesHost(entry: KnownHostsEntry, name: string): boolean {
  if (/[*?!,\s]/.test(name) || !entryMatches(entry, name)) return false;
  return entry.hashed !== undefined || entry.patterns.some((p) => p.toLowerCase() === name);
}

/**
 * An unmarked entry with `name` taken out of its host list, the rest of the line byte for byte; null
 * when the line should go instead: a hashed line (one name), no name that can match a host left
 * (only negations or empty names), or only names starting with `@`, `|` or `#` left, which cannot
 * lead a line (it would read as a marker, a hashed name or a comment) and are no host's name anyway.
 * A new entry: the old object is not changed.
 */
function withoutName(entry: KnownHostsEntry, name: string): KnownHostsEntry | null {
  if (entry.hashed) return null;
  const rest = entry.patterns.filter((p) => p.toLowerCase() !== name);
  // A line starting with `@`, `|` or `#` reads as a marker, a hashed name or a comment: lead with another pattern.
  const lead = rest.findIndex((p) => p !== '' && !/^[@|#]/.test(p));
  if (lead < 0 || !rest.some((p) => p !== '' && !p.startsWith('!'))) return null;
  const field = [rest[lead], ...rest.filter((_, i) => i !== lead)].join(',');
  // Unmarked, so the host field is the line's first word.
  const parsed = parseLine(entry.raw.replace(/^([ \t]*)\S+/, (_, indent: string) => `${indent}${field}`), entry.line);
  if (typeof parsed === 'string' || parsed.kind !== 'entry') {
    throw new Error(`internal: removing a name left an unusable known_hosts line: ${typeof parsed === 'string' ? parsed : 'not an entry'}`);
  }
  return parsed;
}

function entries(kh: KnownHosts): KnownHostsEntry[] {
  return kh.lines.filter((l): l is KnownHostsEntry => l.kind === 'entry');
}

function revokedKeys(kh: KnownHosts): Set<string> {
  return new Set(entries(kh).filter((e) => e.marker === 'revoked').map((e) => e.key.toString('base64')));
}

/** What the file says about one host: its pinned keys, every revoked key, and CAs trusted for it. */
export function lookup(kh: KnownHosts, host: string, port = 22): HostKeyLookup {
  const name = hostKeyName(host, port);
  const revoked = revokedKeys(kh);
  const result: HostKeyLookup = { pinned: [], revokedPins: [], revoked, certAuthorities: [], ignored: [] };
  for (const l of kh.lines) {
    if (l.kind === 'other' && l.ignored && entryMatches(l.ignored, name)) result.ignored.push(`${kh.file}:${l.line}: ${l.ignored.message}`);
  }
  for (const e of entries(kh)) {
    if (e.marker === 'revoked' || !entryMatches(e, name)) continue;
    const ref = { keyType: e.keyType, key: e.key, line: e.line };
    if (e.marker === 'cert-authority') result.certAuthorities.push(ref);
    // No base64 of every key per lookup when nothing is revoked (the usual file, once per connection).
    else if (revoked.size === 0 || !revoked.has(e.key.toString('base64'))) result.pinned.push(ref);
    else result.revokedPins.push(ref);
  }
  return result;
}

/**
 * Judge a presented host key. Revoked always wins; a pin with the same type and blob is ok; a host
 * with pins none of which match is 'changed' even when only keys of other types are pinned (stricter
 * than OpenSSH, which would treat a new key type as unknown and ask); no pins at all is 'unknown'.
 * `keyType` is the key's type (`ssh-rsa`), not the signature algorithm; rsa-sha2-* are taken as ssh-rsa.
 * Certificates are not validated here: callers get the matching CAs from `lookup`.
 */
export function verify(kh: KnownHosts, host: string, port: number, keyType: string, key: Buffer): HostKeyVerdict {
  const type = keyType.startsWith('rsa-sha2-') ? 'ssh-rsa' : keyType;
  const found = lookup(kh, host, port);
  if (found.revoked.size > 0 && found.revoked.has(key.toString('base64'))) return 'revoked';
  if (found.pinned.some((p) => p.keyType === type && p.key.equals(key))) return 'ok';
  return found.pinned.length > 0 ? 'changed' : 'unknown';
}

export interface PinOptions {
  /** Write the name hashed (`|1|salt|hash`) with a fresh random salt. */
  hashed?: boolean;
  comment?: string;
}

/** Pin a key for a host; false (and no change) when that exact key is already pinned for it. A revoked key throws. */
export function addPin(kh: KnownHosts, host: string, port: number, keyType: string, key: Buffer, options: PinOptions = {}): boolean {
  checkKey(keyType, key);
  if (/[\s,*?!|#[\]]/.test(host) || host === '') throw new InputError(`cannot pin invalid host name '${host}'`);
  const found = lookup(kh, host, port);
  if (found.revoked.has(key.toString('base64'))) throw new InputError(`refusing to pin revoked key ${fingerprintSha256(key)} for ${host}`);
  if (found.pinned.some((p) => p.key.equals(key))) return false;
  const name = hostKeyName(host, port);
  appendLine(kh, options.hashed ? hashHostName(name) : name, keyType, key, options.comment);
  return true;
}

/** Mark a key revoked for every host (`@revoked *`); false when it already is. */
export function addRevoked(kh: KnownHosts, keyType: string, key: Buffer, options: { comment?: string } = {}): boolean {
  checkKey(keyType, key);
  if (revokedKeys(kh).has(key.toString('base64'))) return false;
  appendLine(kh, '*', keyType, key, options.comment, '@revoked ');
  return true;
}

/**
 * Remove the host's pins: all of them, or only those of `key`. Returns how many pins went, i.e. how
 * many lines were dropped or lost this host's name (each line counted once); 0 when nothing changed.
 * - A plain line naming several hosts (`a,b,[c]:2222 KEY`) loses only this host's name (`a`, or
 *   `[a]:port` off port 22; any case) and stays for the others, the rest of it byte for byte. It goes
 *   whole only when no name that can match a host is left (negations alone match nothing).
 * - A hashed line (`|1|...`) names one host: it goes whole.
 * - Lines that reach the host only through a pattern (`*.example.org`, `10.1.0.*`, `node??`), or
 *   whose negation vetoes it (`*,!a`), stay untouched: they are policy for many hosts, not this
 *   host's pin. (A line still holding a wildcard after losing the name may go on matching the host.)
 * - @revoked and @cert-authority lines always stay, even when they name the host: a revocation or a
 *   trusted CA is not a pin (as with `ssh-keygen -R`, which leaves marker lines too).
 * - Comments, blank lines and lines not understood stay byte for byte.
 * `kh.lines` is replaced by a new array, edited lines by new objects: nothing is changed in place.
 */
export function removePins(kh: KnownHosts, host: string, port = 22, options: { key?: Buffer } = {}): number {
  const name = hostKeyName(host, port);
  let removed = 0;
  const out: KnownHostsLine[] = [];
  for (const l of kh.lines) {
    if (l.kind !== 'entry' || l.marker !== undefined || (options.key !== undefined && !l.key.equals(options.key)) || !namesHost(l, name)) {
      out.push(l);
      continue;
    }
    removed++;
    const kept = withoutName(l, name);
    if (kept) out.push(kept);
  }
  kh.lines = out;
  return removed;
}

function checkKey(keyType: string, key: Buffer): void {
  const inner = keyTypeOfBlob(key);
  if (!KEY_TYPE.test(keyType) || inner !== keyType) {
    throw new InputError(`key type '${keyType}' does not match the key blob (${inner ?? 'not an SSH key'})`);
  }
  const problem = keyBlobProblem(keyType, key);
  if (problem) throw new InputError(`refusing to write a ${problem}`);
}

function appendLine(kh: KnownHosts, hostField: string, keyType: string, key: Buffer, comment = '', prefix = ''): void {
  // A comment must stay on one line or it would become a line of its own.
  let note = comment.replace(/[\r\n]+/g, ' ').trim();
  // In a file kept as latin1 text, carry the comment's UTF-8 bytes so writing it back gives UTF-8.
  if (kh.encoding === 'latin1') note = Buffer.from(note, 'utf8').toString('latin1');
  const last = kh.lines[kh.lines.length - 1];
  if (last && !last.raw.endsWith('\n')) last.raw += '\n';
  // Always LF: it is what OpenSSH writes and reads, whatever endings the rest of the file uses.
  const raw = `${prefix}${hostField} ${keyType} ${key.toString('base64')}${note ? ` ${note}` : ''}\n`;
  const parsed = parseLine(raw, 0);
  if (typeof parsed === 'string') throw new Error(`internal: rendered an unparseable known_hosts line: ${parsed}`);
  kh.lines.push(parsed);
}
