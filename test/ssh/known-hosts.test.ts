import { describe, expect, it } from 'vitest';
import {
  addPin, addRevoked, hashHostName, hostKeyName, lookup, parseKnownHosts, removePins, serializeKnownHosts, verify,
  type KnownHostsEntry,
} from '../../src/ssh/index.js';
import { InputError } from '../../src/core/errors.js';
import { b64, blob, ed25519 } from './keys.js';

const K1 = ed25519(1);
const K2 = ed25519(2);
const K3 = ed25519(3);
const RSA = blob('ssh-rsa', 9);

const kh = (text: string) => parseKnownHosts(text, 'known_hosts');
const entries = (text: string) => kh(text).lines.filter((l): l is KnownHostsEntry => l.kind === 'entry');

describe('parse and serialize', () => {
  const messy = [
    '# known hosts, hand-edited\r\n',
    '\r\n',
    `web1,10.0.0.1   ssh-ed25519\t${b64(K1)}   admin@laptop  (old)\r\n`,
    `  \t[web2]:2222 ssh-ed25519 ${b64(K2)}\n`,
    '   # indented comment\n',
    '\t\n',
    'this line is not understood\n',
    `host1 1024 35 1234567890\n`,
    `@weird host3 ssh-ed25519 ${b64(K1)}\n`,
    `|1|notbase64!|xx ssh-ed25519 ${b64(K1)}\n`,
    `@revoked * ssh-ed25519 ${b64(K3)}`, // last line without a newline
  ].join('');

  it('re-serializes byte for byte', () => {
    expect(serializeKnownHosts(kh(messy))).toBe(messy);
  });

  it('keeps bytes that are not UTF-8 (latin1 comments)', () => {
    const bytes = Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from(`\nh ssh-ed25519 ${b64(K1)}\n`)]);
    const parsed = parseKnownHosts(bytes, 'kh');
    expect(parsed.encoding).toBe('latin1');
    expect(Buffer.from(serializeKnownHosts(parsed), parsed.encoding).equals(bytes)).toBe(true);
  });

  it('understands entries and keeps their fields', () => {
    const [first, second, revoked] = entries(messy);
    expect(first).toMatchObject({ line: 3, patterns: ['web1', '10.0.0.1'], keyType: 'ssh-ed25519', comment: 'admin@laptop  (old)' });
    expect(first.key.equals(K1)).toBe(true);
    expect(second).toMatchObject({ line: 4, patterns: ['[web2]:2222'], comment: '' });
    expect(revoked).toMatchObject({ line: 11, marker: 'revoked', patterns: ['*'] });
  });

  it('warns, with file and line, about entry-like lines it cannot use', () => {
    const parsed = kh(messy);
    expect(parsed.warnings.map((w) => [w.file, w.line])).toEqual([
      ['known_hosts', 7], ['known_hosts', 8], ['known_hosts', 9], ['known_hosts', 10],
    ]);
    expect(parsed.warnings[1].message).toMatch(/SSH-1/);
    expect(parsed.warnings[2].message).toMatch(/unknown marker '@weird'/);
    expect(parsed.warnings[3].message).toMatch(/bad hashed host name/);
  });

  it.each([
    [`h ssh-ed25519 ${b64(K1).slice(0, -1)}`, /bad base64/],
    [`h ssh-ed25519 AAAA$$$$`, /bad base64/],
    [`h ssh-rsa ${b64(K1)}`, /does not match the key's own type 'ssh-ed25519'/],
    [`h ssh-ed25519 aGVsbG8gd29ybGQh`, /not an SSH public key/],
    [`h ssh-ed25519`, /expected host patterns, key type and key/],
    [`@revoked ssh-ed25519 ${b64(K1)}`, /marker '@revoked' without host patterns/],
    [`|1|${Buffer.alloc(8).toString('base64')}|${Buffer.alloc(20).toString('base64')} ssh-ed25519 ${b64(K1)}`, /hashed/],
  ])('keeps but warns about %s', (line, message) => {
    const text = `# ok\n${line}\n`;
    const parsed = kh(text);
    expect(parsed.warnings).toHaveLength(1);
    expect(parsed.warnings[0]).toMatchObject({ file: 'known_hosts', line: 2 });
    expect(parsed.warnings[0].message).toMatch(message);
    expect(parsed.lines[1].kind).toBe('other');
    expect(serializeKnownHosts(parsed)).toBe(text);
  });

  it('rejects binary data with an InputError', () => {
    const bytes = Buffer.from([0x23, 0x0a, 0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]);
    expect(() => parseKnownHosts(bytes, 'kh')).toThrow(InputError);
    expect(() => parseKnownHosts(bytes, 'kh')).toThrow(/^kh:2: not a known_hosts file/);
  });

  it('parses an empty file', () => {
    expect(kh('').lines).toEqual([]);
    expect(serializeKnownHosts(kh(''))).toBe('');
  });
});

describe('host names and hashing', () => {
  it('uses the bare host on port 22 and [host]:port elsewhere, lowercased', () => {
    expect(hostKeyName('Web1.Example.org')).toBe('web1.example.org');
    expect(hostKeyName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(hostKeyName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('hashes as HMAC-SHA1 keyed by the salt', () => {
    // Known answer from OpenSSH's `ssh-keygen -H` for the name "web1".
    const salt = Buffer.from('fLSz9pL0Scuea/Fbtr817KkO5Ng=', 'base64');
    expect(hashHostName('web1', salt)).toBe('|1|fLSz9pL0Scuea/Fbtr817KkO5Ng=|uepj02Id8UI1H5KpAlReT0R4myQ=');
    expect(hashHostName('web1')).not.toBe(hashHostName('web1'));
  });
});

describe('lookup', () => {
  const file = kh(
    [
      `web1,10.0.0.1 ssh-ed25519 ${b64(K1)}`,
      `[web2]:2222 ssh-ed25519 ${b64(K2)}`,
      `web2 ssh-rsa ${b64(RSA)}`,
      `*.lab,!bad.lab ssh-ed25519 ${b64(K3)}`,
      `node?? ssh-ed25519 ${b64(K2)}`,
      `[10.0.0.*]:2200 ssh-ed25519 ${b64(K1)}`,
      `@cert-authority *.lab ssh-ed25519 ${b64(K2)}`,
      `@revoked nowhere ssh-rsa ${b64(RSA)}`,
      `${hashHostName('[hidden]:2022')} ssh-ed25519 ${b64(K3)}`,
      `${hashHostName('hidden')} ssh-ed25519 ${b64(K2)}`,
      '',
    ].join('\n'),
  );
  const pinnedLines = (host: string, port?: number) => lookup(file, host, port).pinned.map((p) => p.line);

  it('parses every line of the fixture', () => {
    expect(file.warnings).toEqual([]);
  });

  it('matches comma lists, case-insensitively', () => {
    expect(pinnedLines('web1')).toEqual([1]);
    expect(pinnedLines('10.0.0.1')).toEqual([1]);
    expect(pinnedLines('WEB1')).toEqual([1]);
  });

  it('keeps ports apart: port 22 matches bare names, others only [host]:port', () => {
    expect(pinnedLines('web2', 2222)).toEqual([2]);
    // web2's RSA key is revoked (by a line for another host): revoked keys are never pinned.
    expect(pinnedLines('web2', 22)).toEqual([]);
    expect(pinnedLines('web1', 2222)).toEqual([]);
    expect(pinnedLines('web2', 2223)).toEqual([]);
  });

  it('applies * and ? wildcards and lets a negation veto the line', () => {
    expect(pinnedLines('a.lab')).toEqual([4]);
    expect(pinnedLines('bad.lab')).toEqual([]);
    expect(pinnedLines('node01')).toEqual([5]);
    expect(pinnedLines('node1')).toEqual([]);
    expect(pinnedLines('node001')).toEqual([]);
    expect(pinnedLines('10.0.0.7', 2200)).toEqual([6]);
    expect(pinnedLines('10.0.0.7', 22)).toEqual([]);
  });

  it('matches hashed names, port included', () => {
    expect(pinnedLines('hidden', 2022)).toEqual([9]);
    expect(pinnedLines('hidden')).toEqual([10]);
    expect(pinnedLines('HIDDEN', 22)).toEqual([10]);
    expect(pinnedLines('hidden', 2023)).toEqual([]);
  });

  it('returns matching CAs separately and every revoked key', () => {
    const found = lookup(file, 'x.lab');
    expect(found.certAuthorities.map((c) => c.line)).toEqual([7]);
    expect(found.pinned.map((c) => c.line)).toEqual([4]);
    expect([...found.revoked]).toEqual([b64(RSA)]);
    expect(lookup(file, 'web1').certAuthorities).toEqual([]);
    expect(lookup(file, 'bad.lab').certAuthorities.map((c) => c.line)).toEqual([7]);
  });
});

describe('verify', () => {
  const file = kh(
    [
      `web1 ssh-ed25519 ${b64(K1)}`,
      `web1 ssh-rsa ${b64(RSA)}`,
      `web3 ssh-rsa ${b64(RSA)}`,
      `[web1]:2222 ssh-ed25519 ${b64(K2)}`,
      `@revoked * ssh-ed25519 ${b64(K3)}`,
      `web4 ssh-ed25519 ${b64(K3)}`,
      `*.lab,!bad.lab ssh-ed25519 ${b64(K2)}`,
      `@cert-authority *.ca ssh-ed25519 ${b64(K1)}`,
    ].join('\n'),
  );

  it('is ok for any pinned key of the host', () => {
    expect(file.warnings).toEqual([]);
    expect(verify(file, 'web1', 22, 'ssh-ed25519', K1)).toBe('ok');
    expect(verify(file, 'web1', 22, 'ssh-rsa', RSA)).toBe('ok');
    expect(verify(file, 'web1', 22, 'rsa-sha2-512', RSA)).toBe('ok');
    expect(verify(file, 'web1', 2222, 'ssh-ed25519', K2)).toBe('ok');
    expect(verify(file, 'x.lab', 22, 'ssh-ed25519', K2)).toBe('ok');
  });

  it('is changed when the host has pins and none match, even of another type (strict choice)', () => {
    expect(verify(file, 'web1', 22, 'ssh-ed25519', K2)).toBe('changed');
    expect(verify(file, 'web1', 2222, 'ssh-ed25519', K1)).toBe('changed');
    expect(verify(file, 'web3', 22, 'ssh-ed25519', K1)).toBe('changed');
  });

  it('is unknown for hosts without pins', () => {
    expect(verify(file, 'web9', 22, 'ssh-ed25519', K1)).toBe('unknown');
    expect(verify(file, 'web3', 2222, 'ssh-rsa', RSA)).toBe('unknown');
    expect(verify(file, 'bad.lab', 22, 'ssh-ed25519', K2)).toBe('unknown');
    // A CA is not a pin: a plain key of a host under a CA is still unknown.
    expect(verify(file, 'a.ca', 22, 'ssh-ed25519', K1)).toBe('unknown');
  });

  it('is revoked for a revoked key whatever the host, even where it is pinned', () => {
    expect(verify(file, 'web4', 22, 'ssh-ed25519', K3)).toBe('revoked');
    expect(verify(file, 'web1', 22, 'ssh-ed25519', K3)).toBe('revoked');
    expect(verify(file, 'web9', 2200, 'ssh-ed25519', K3)).toBe('revoked');
    // Its only pin revoked, web4 has nothing pinned left.
    expect(verify(file, 'web4', 22, 'ssh-ed25519', K1)).toBe('unknown');
  });
});

describe('editing', () => {
  const base = `# keep me\r\nweb1  ssh-ed25519 ${b64(K1)}  spaced   comment\r\n*.lab ssh-ed25519 ${b64(K3)}\r\n@cert-authority web1 ssh-ed25519 ${b64(K2)}\r\n@revoked web1 ssh-rsa ${b64(RSA)}`;

  it('appends pins (LF-terminated, after terminating the last line) and leaves other lines alone', () => {
    const file = kh(base);
    expect(addPin(file, 'web2', 22, 'ssh-ed25519', K2, { comment: 'added\nby fleet' })).toBe(true);
    expect(addPin(file, 'web2', 2222, 'ssh-ed25519', K2)).toBe(true);
    expect(serializeKnownHosts(file)).toBe(
      `${base}\nweb2 ssh-ed25519 ${b64(K2)} added by fleet\n[web2]:2222 ssh-ed25519 ${b64(K2)}\n`,
    );
    expect(verify(file, 'web2', 22, 'ssh-ed25519', K2)).toBe('ok');
  });

  it('writes hashed pins that lookup finds', () => {
    const file = kh('');
    addPin(file, 'Secret', 2200, 'ssh-ed25519', K1, { hashed: true });
    const text = serializeKnownHosts(file);
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 \S+\n$/);
    expect(text).not.toContain('ecret');
    expect(verify(kh(text), 'secret', 2200, 'ssh-ed25519', K1)).toBe('ok');
    expect(verify(kh(text), 'secret', 22, 'ssh-ed25519', K1)).toBe('unknown');
  });

  it('does not pin a key twice', () => {
    const file = kh(base);
    expect(addPin(file, 'web1', 22, 'ssh-ed25519', K1)).toBe(false);
    expect(addPin(file, 'a.lab', 22, 'ssh-ed25519', K3)).toBe(false);
    expect(serializeKnownHosts(file)).toBe(base);
  });

  it('refuses keys that do not match their type and names that would corrupt the file', () => {
    const file = kh('');
    expect(() => addPin(file, 'h', 22, 'ssh-rsa', K1)).toThrow(InputError);
    expect(() => addPin(file, 'h', 22, 'ssh-ed25519', Buffer.from('junk'))).toThrow(/not an SSH key/);
    expect(() => addPin(file, 'a b', 22, 'ssh-ed25519', K1)).toThrow(/invalid host name/);
    expect(() => addPin(file, 'a,b', 22, 'ssh-ed25519', K1)).toThrow(/invalid host name/);
    expect(() => addPin(file, '*', 22, 'ssh-ed25519', K1)).toThrow(/invalid host name/);
    expect(file.lines).toEqual([]);
  });

  it('removes literal pins only, keeping wildcard, marker and other-port lines', () => {
    const file = kh(`${base}\n[web1]:2222 ssh-ed25519 ${b64(K1)}\nweb1,10.0.0.1 ssh-rsa ${b64(RSA)}\n${hashHostName('web1')} ssh-ed25519 ${b64(K2)}\n`);
    expect(removePins(file, 'web1')).toBe(3);
    expect(serializeKnownHosts(file)).toBe(
      `# keep me\r\n*.lab ssh-ed25519 ${b64(K3)}\r\n@cert-authority web1 ssh-ed25519 ${b64(K2)}\r\n@revoked web1 ssh-rsa ${b64(RSA)}\n[web1]:2222 ssh-ed25519 ${b64(K1)}\n10.0.0.1 ssh-rsa ${b64(RSA)}\n`,
    );
    expect(removePins(file, 'a.lab')).toBe(0);
    expect(removePins(file, 'web1', 2222)).toBe(1);
  });

  it('removes only the given key when asked', () => {
    const file = kh(`web1 ssh-ed25519 ${b64(K1)}\nweb1 ssh-ed25519 ${b64(K2)}\n`);
    expect(removePins(file, 'web1', 22, { key: K1 })).toBe(1);
    expect(serializeKnownHosts(file)).toBe(`web1 ssh-ed25519 ${b64(K2)}\n`);
  });

  it('takes only the host\'s name out of a comma list, keeping the line for the other names', () => {
    const text = `# keep\n  a,B,[c]:2222\tssh-ed25519  ${b64(K1)}  two  words\r\nd ssh-ed25519 ${b64(K2)}\n`;
    const file = kh(text);
    const lines = file.lines;
    const edited = file.lines[1];
    expect(removePins(file, 'A')).toBe(1);
    // Only the host field changes: indentation, spacing, comment and CRLF stay as they were.
    expect(serializeKnownHosts(file)).toBe(`# keep\n  B,[c]:2222\tssh-ed25519  ${b64(K1)}  two  words\r\nd ssh-ed25519 ${b64(K2)}\n`);
    expect(file.warnings).toEqual([]);
    // A new array and a new entry, so caches keyed on them (connection-cache.ts) see the edit.
    expect(file.lines).not.toBe(lines);
    expect(file.lines[1]).not.toBe(edited);
    expect(file.lines[1]).toMatchObject({ kind: 'entry', line: 2, patterns: ['B', '[c]:2222'], comment: 'two  words' });
    expect(verify(file, 'a', 22, 'ssh-ed25519', K1)).toBe('unknown');
    expect(verify(file, 'b', 22, 'ssh-ed25519', K1)).toBe('ok');
    expect(verify(file, 'c', 2222, 'ssh-ed25519', K1)).toBe('ok');
    expect(removePins(file, 'b')).toBe(1);
    expect(removePins(file, 'c', 2222)).toBe(1);
    // No name left: the line goes.
    expect(serializeKnownHosts(file)).toBe(`# keep\nd ssh-ed25519 ${b64(K2)}\n`);
    expect(removePins(file, 'a')).toBe(0);
  });

  it('takes [host]:port names out only for that port', () => {
    const file = kh(`[h]:2222,h,[h]:2200,g ssh-ed25519 ${b64(K1)}\n`);
    expect(removePins(file, 'h', 2201)).toBe(0);
    expect(removePins(file, 'h', 2222)).toBe(1);
    expect(serializeKnownHosts(file)).toBe(`h,[h]:2200,g ssh-ed25519 ${b64(K1)}\n`);
    expect(removePins(file, 'h')).toBe(1);
    expect(serializeKnownHosts(file)).toBe(`[h]:2200,g ssh-ed25519 ${b64(K1)}\n`);
    expect(verify(file, 'h', 2200, 'ssh-ed25519', K1)).toBe('ok');
    expect(verify(file, 'h', 22, 'ssh-ed25519', K1)).toBe('unknown');
  });

  it('leaves lines that reach the host only through a pattern or that negate it untouched', () => {
    const policy = [
      `*.example.org ssh-ed25519 ${b64(K1)}`,
      `10.1.0.* ssh-ed25519 ${b64(K2)}`,
      `[10.1.0.?]:2222 ssh-ed25519 ${b64(K2)}`,
      `*,!a ssh-ed25519 ${b64(K3)}`,
      `!a,b ssh-ed25519 ${b64(K3)}`,
      `a,!a ssh-ed25519 ${b64(K3)}`,
      '',
    ].join('\n');
    const file = kh(policy);
    expect(file.warnings).toEqual([]);
    expect(removePins(file, 'web1.example.org')).toBe(0);
    expect(removePins(file, '10.1.0.5')).toBe(0);
    expect(removePins(file, '10.1.0.5', 2222)).toBe(0);
    expect(removePins(file, 'a')).toBe(0);
    // A pattern is not a host: asking to remove `*.example.org` does not take the wildcard line.
    expect(removePins(file, '*.example.org')).toBe(0);
    expect(removePins(file, '10.1.0.*')).toBe(0);
    expect(serializeKnownHosts(file)).toBe(policy);
  });

  it('keeps wildcards and negations of a line that also names the host, and drops it when only negations are left', () => {
    const file = kh(`web1.example.org,*.example.org,!bad.example.org ssh-ed25519 ${b64(K1)}\n!x,a ssh-ed25519 ${b64(K2)}\n`);
    expect(removePins(file, 'web1.example.org')).toBe(1);
    expect(removePins(file, 'a')).toBe(1);
    expect(serializeKnownHosts(file)).toBe(`*.example.org,!bad.example.org ssh-ed25519 ${b64(K1)}\n`);
  });

  it('never lets a remaining name that would read as a marker, hash or comment lead the line', () => {
    const file = kh(`a,#b,@c,d ssh-ed25519 ${b64(K1)}\na,@x ssh-ed25519 ${b64(K2)}\n`);
    expect(file.warnings).toEqual([]);
    expect(removePins(file, 'a')).toBe(2);
    expect(serializeKnownHosts(file)).toBe(`d,#b,@c ssh-ed25519 ${b64(K1)}\n`);
    expect(file.lines[0]).toMatchObject({ kind: 'entry', patterns: ['d', '#b', '@c'] });
  });

  it('removes a hashed line of the host whole, and only that one', () => {
    const mine = hashHostName('web1');
    const otherPort = hashHostName('[web1]:2222');
    const other = hashHostName('web2');
    const file = kh(`${mine} ssh-ed25519 ${b64(K1)}\n${otherPort} ssh-ed25519 ${b64(K1)}\n${other} ssh-ed25519 ${b64(K1)}\n`);
    expect(removePins(file, 'WEB1')).toBe(1);
    expect(serializeKnownHosts(file)).toBe(`${otherPort} ssh-ed25519 ${b64(K1)}\n${other} ssh-ed25519 ${b64(K1)}\n`);
    expect(verify(file, 'web1', 22, 'ssh-ed25519', K1)).toBe('unknown');
    expect(verify(file, 'web1', 2222, 'ssh-ed25519', K1)).toBe('ok');
    expect(verify(file, 'web2', 22, 'ssh-ed25519', K1)).toBe('ok');
  });

  it('with a key, edits only lines of that key and leaves marker lines naming the host alone', () => {
    const markers = `@cert-authority a,b ssh-ed25519 ${b64(K1)}\n@revoked a ssh-rsa ${b64(RSA)}\n`;
    const hashed = `${hashHostName('a')} ssh-ed25519 ${b64(K2)}\n`;
    const file = kh(`a,b ssh-ed25519 ${b64(K1)}\na,b ssh-ed25519 ${b64(K2)}\n${hashed}${markers}`);
    expect(removePins(file, 'a', 22, { key: K3 })).toBe(0);
    expect(removePins(file, 'a', 22, { key: K1 })).toBe(1);
    expect(serializeKnownHosts(file)).toBe(`b ssh-ed25519 ${b64(K1)}\na,b ssh-ed25519 ${b64(K2)}\n${hashed}${markers}`);
    expect(verify(file, 'a', 22, 'ssh-ed25519', K2)).toBe('ok');
    expect(verify(file, 'a', 22, 'ssh-ed25519', K1)).toBe('changed');
    expect(removePins(file, 'a')).toBe(2);
    expect(serializeKnownHosts(file)).toBe(`b ssh-ed25519 ${b64(K1)}\nb ssh-ed25519 ${b64(K2)}\n${markers}`);
  });

  it('revokes a key for every host, once', () => {
    const file = kh(`web1 ssh-ed25519 ${b64(K1)}\n`);
    expect(addRevoked(file, 'ssh-ed25519', K1, { comment: 'cloned key' })).toBe(true);
    expect(addRevoked(file, 'ssh-ed25519', K1)).toBe(false);
    expect(serializeKnownHosts(file)).toBe(`web1 ssh-ed25519 ${b64(K1)}\n@revoked * ssh-ed25519 ${b64(K1)} cloned key\n`);
    expect(verify(file, 'web1', 22, 'ssh-ed25519', K1)).toBe('revoked');
    expect(() => addPin(file, 'web2', 22, 'ssh-ed25519', K1)).toThrow(/refusing to pin revoked key SHA256:/);
  });

  it('keeps UTF-8 comments intact when appending to a latin1 file', () => {
    const bytes = Buffer.concat([Buffer.from('# '), Buffer.from([0xe9]), Buffer.from('\n')]);
    const file = parseKnownHosts(bytes, 'kh');
    addPin(file, 'h', 22, 'ssh-ed25519', K1, { comment: 'café' });
    const out = Buffer.from(serializeKnownHosts(file), file.encoding);
    expect(out.subarray(0, bytes.length).equals(bytes)).toBe(true);
    expect(out.subarray(bytes.length).toString('utf8')).toBe(`h ssh-ed25519 ${b64(K1)} café\n`);
  });
});
