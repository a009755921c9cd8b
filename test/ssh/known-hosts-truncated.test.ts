// A key cut short in known_hosts (still valid base64, still naming its type) is no pin: a warning
// with file:line, once per line, and a host holding only such lines is "not pinned" with those
// lines named, instead of a false "HOST KEY HAS CHANGED".
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleet, jsonLines } from '../cli/cli-harness.js';
import { useFleet } from '../helpers/emulator.js';
import { InputError } from '../../src/core/errors.js';
import { addPin, hashHostName, lookup, parseKnownHosts, pinsOf, serializeKnownHosts, verify } from '../../src/ssh/index.js';
import { keyBlobProblem } from '../../src/ssh/key-blob.js';
import { b64, blob, ed25519 } from './keys.js';

/** The base64 text of a key cut at a multiple of 4 characters: still valid base64. */
const cut = (key: Buffer, chars: number) => b64(key).slice(0, chars - (chars % 4));

function ecdsa(): Buffer {
  const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const s = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([s(Buffer.from('ecdsa-sha2-nistp256')), s(Buffer.from('nistp256')), s(der.subarray(der.length - 65))]);
}

describe('keyBlobProblem', () => {
  it('accepts whole keys and keys of types it does not know', () => {
    expect(keyBlobProblem('ssh-ed25519', ed25519(1))).toBeNull();
    expect(keyBlobProblem('ssh-rsa', blob('ssh-rsa', 9))).toBeNull();
    expect(keyBlobProblem('ecdsa-sha2-nistp256', ecdsa())).toBeNull();
    expect(keyBlobProblem('ssh-ed25519-cert-v01@openssh.com', Buffer.alloc(3))).toBeNull();
  });

  it('finds keys cut short, fields of the wrong size and bytes after the end', () => {
    expect(keyBlobProblem('ssh-ed25519', ed25519(1).subarray(0, 30))).toMatch(/truncated ssh-ed25519 key: 30 bytes, it ends inside field 2 of 2/);
    expect(keyBlobProblem('ssh-ed25519', ed25519(1).subarray(0, 15))).toMatch(/ends before field 2/);
    expect(keyBlobProblem('ssh-rsa', blob('ssh-rsa', 9).subarray(0, 30))).toMatch(/truncated ssh-rsa key/);
    expect(keyBlobProblem('ecdsa-sha2-nistp256', ecdsa().subarray(0, 60))).toMatch(/truncated ecdsa-sha2-nistp256 key/);
    expect(keyBlobProblem('ssh-ed25519', Buffer.concat([ed25519(1), Buffer.from([0, 0, 0, 0])]))).toMatch(/4 bytes after its last field/);
  });
});

describe('truncated keys in known_hosts', () => {
  const K1 = ed25519(1);
  const K2 = ed25519(2);

  it('are kept byte for byte, warned about with file:line, and never pins', () => {
    const text = [
      `web1 ssh-ed25519 ${cut(K1, 44)}\n`,
      `web2 ssh-ed25519 ${b64(K2)}\n`,
      `web2 ssh-rsa ${cut(blob('ssh-rsa', 9), 60)} comment\n`,
      `${hashHostName('web3')} ecdsa-sha2-nistp256 ${cut(ecdsa(), 100)}\n`,
    ].join('');
    const kh = parseKnownHosts(text, 'kh');
    expect(kh.warnings.map((w) => [w.line, w.message.replace(/:.*;/, ':;')])).toEqual([
      [1, 'truncated ssh-ed25519 key:; ignored, not a pin'],
      [3, 'truncated ssh-rsa key:; ignored, not a pin'],
      [4, 'truncated ecdsa-sha2-nistp256 key:; ignored, not a pin'],
    ]);
    expect(kh.lines.map((l) => l.kind)).toEqual(['other', 'entry', 'other', 'other']);
    expect(serializeKnownHosts(kh)).toBe(text);
    // A host with only a truncated line is not pinned (not "changed"), and the line is named.
    expect(verify(kh, 'web1', 22, 'ssh-ed25519', K1)).toBe('unknown');
    expect(lookup(kh, 'web1').ignored).toEqual([expect.stringMatching(/^kh:1: truncated ssh-ed25519 key/)]);
    expect(lookup(kh, 'web2')).toMatchObject({ pinned: [{ line: 2 }], ignored: [expect.stringMatching(/^kh:3: /)] });
    expect(verify(kh, 'web2', 22, 'ssh-ed25519', K2)).toBe('ok');
    // The per-host index a fan-out uses keeps them too, hashed names included.
    expect(lookup(pinsOf(kh, 'web3', 22), 'web3').ignored).toEqual([expect.stringMatching(/^kh:4: truncated ecdsa/)]);
    expect(lookup(pinsOf(kh, 'web1', 22), 'web1').ignored).toHaveLength(1);
    expect(lookup(pinsOf(kh, 'web9', 22), 'web9').ignored).toEqual([]);
  });

  it('cannot be written as pins', () => {
    const kh = parseKnownHosts('', 'kh');
    expect(() => addPin(kh, 'web1', 22, 'ssh-ed25519', K1.subarray(0, 30))).toThrow(InputError);
    expect(kh.lines).toEqual([]);
  });
});

describe('fleet run with truncated keys in known_hosts', () => {
  const F = useFleet({ guests: 3, subnet: '127.142.0.0/16', port: 2222 });

  it('warns once per line, calls a host with only truncated pins not pinned (naming the lines), reaches the others', async () => {
    const lines = readFileSync(F().emu.knownHostsPath, 'utf8').split('\n').filter((l) => l.startsWith('['));
    const guest = (n: number) => lines.filter((l) => l.startsWith(`[127.142.0.${n}]:2222 `));
    const truncate = (l: string) => {
      const [host, type, key] = l.split(' ');
      return `${host} ${type} ${key!.slice(0, 40)}`;
    };
    // guest001: every key truncated; guest002: its ed25519 key truncated, the others whole; guest003 intact.
    const text = [...guest(1).map(truncate), ...guest(2).map((l) => (l.includes(' ssh-ed25519 ') ? truncate(l) : l)), ...guest(3)];
    const kh = join(F().state, 'truncated_known_hosts');
    writeFileSync(kh, `${text.join('\n')}\n`);
    const bad = text.flatMap((l, i) => (l.length < 80 ? [i + 1] : []));
    expect(bad).toHaveLength(guest(1).length + 1);

    const r = await fleet('run', '-i', F().emu.inventoryPath, '--identity', F().emu.clientKeyPath, '--known-hosts', kh, '--json', '--', 'true');
    for (const n of bad) {
      const warnings = r.err.split('\n').filter((l) => l.startsWith(`fleet: warning: ${kh}:${n}: `));
      expect(warnings, `line ${n}`).toHaveLength(1);
      expect(warnings[0]).toMatch(/truncated .* key.*ignored, not a pin/);
    }
    const rows = jsonLines(r.out);
    const g1 = rows.find((x) => x.host === 'guest001')!;
    expect(g1.status).toBe('hostkey-refused');
    expect(g1.error).toMatch(/is not pinned/);
    expect(g1.error).not.toMatch(/CHANGED/);
    for (const n of bad.slice(0, guest(1).length)) expect(g1.error).toContain(`${kh}:${n}: truncated`);
    expect(rows.find((x) => x.host === 'guest002')!.status).toBe('ok');
    expect(rows.find((x) => x.host === 'guest003')!.status).toBe('ok');
    expect(r.code).toBe(3);
  });
});
