// known_hosts edits of the host-key flows: unpinning one host's keys without touching other hosts
// named on the same line, hashed names, and in-memory pin sets.
import { describe, expect, it } from 'vitest';
import { pinLines, pinsAreHashed, pinsOnly, unpinKeys } from '../../src/hostkeys/index.js';
import { addPin, hashHostName, parseKnownHosts, serializeKnownHosts, verify } from '../../src/ssh/index.js';
import { b64, ed25519 } from '../ssh/keys.js';

const A = ed25519(1);
const B = ed25519(2);

describe('unpinKeys', () => {
  it('removes a host from a shared line and keeps the other hosts pinned', () => {
    const kh = parseKnownHosts(`# keep me\n[10.0.0.1]:2222,[10.0.0.2]:2222 ssh-ed25519 ${b64(A)} golden\n[10.0.0.1]:2222 ssh-ed25519 ${b64(B)}\n`);
    expect(unpinKeys(kh, '10.0.0.1', 2222, [A])).toBe(1);
    expect(serializeKnownHosts(kh)).toBe(`# keep me\n[10.0.0.2]:2222 ssh-ed25519 ${b64(A)} golden\n[10.0.0.1]:2222 ssh-ed25519 ${b64(B)}\n`);
    expect(verify(kh, '10.0.0.2', 2222, 'ssh-ed25519', A)).toBe('ok');
    expect(verify(kh, '10.0.0.1', 2222, 'ssh-ed25519', A)).toBe('changed');
    expect(verify(kh, '10.0.0.1', 2222, 'ssh-ed25519', B)).toBe('ok');
  });

  it('removes hashed lines of the host, leaves wildcard and @revoked lines alone', () => {
    const hashed = hashHostName('[10.0.0.1]:2222');
    const kh = parseKnownHosts(`${hashed} ssh-ed25519 ${b64(A)}\n[10.0.0.*]:2222 ssh-ed25519 ${b64(A)}\n@revoked * ssh-ed25519 ${b64(B)}\n`);
    expect(pinsAreHashed(kh, '10.0.0.1', 2222)).toBe(true);
    expect(pinLines(kh, '10.0.0.1', 2222)).toHaveLength(1);
    expect(unpinKeys(kh, '10.0.0.1', 2222, [A, B])).toBe(1);
    expect(serializeKnownHosts(kh)).toBe(`[10.0.0.*]:2222 ssh-ed25519 ${b64(A)}\n@revoked * ssh-ed25519 ${b64(B)}\n`);
  });

  it('keeps what it does not remove byte for byte, CRLF endings included', () => {
    const kh = parseKnownHosts(`a,b ssh-ed25519 ${b64(A)}\r\nc ssh-ed25519 ${b64(A)}\r\n`);
    unpinKeys(kh, 'a', 22, [A]);
    expect(serializeKnownHosts(kh)).toBe(`b ssh-ed25519 ${b64(A)}\r\nc ssh-ed25519 ${b64(A)}\r\n`);
    expect(kh.warnings).toEqual([]);
  });
});

describe('pinsOnly', () => {
  it('accepts exactly the given keys for the host and nothing for others', () => {
    const kh = pinsOnly('10.0.0.1', 2222, [{ keyType: 'ssh-ed25519', key: A }]);
    expect(verify(kh, '10.0.0.1', 2222, 'ssh-ed25519', A)).toBe('ok');
    expect(verify(kh, '10.0.0.1', 2222, 'ssh-ed25519', B)).toBe('changed');
    expect(verify(kh, '10.0.0.2', 2222, 'ssh-ed25519', A)).toBe('unknown');
    expect(addPin(kh, '10.0.0.1', 2222, 'ssh-ed25519', B)).toBe(true);
  });
});
