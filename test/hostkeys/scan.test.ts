// Clone groups and pin status, as pure functions over scan results.
import { describe, expect, it } from 'vitest';
import { cloneGroups, pinStatus, type GuestScan } from '../../src/hostkeys/index.js';
import { fingerprintSha256, parseKnownHosts, type PresentedKey } from '../../src/ssh/index.js';
import { b64, ed25519 } from '../ssh/keys.js';

const key = (fill: number): PresentedKey => {
  const k = ed25519(fill);
  return { type: 'ed25519', keyType: 'ssh-ed25519', key: k, fingerprint: fingerprintSha256(k) };
};
const guest = (host: string, ...fills: number[]): GuestScan => ({
  host, address: host, port: 22, keys: fills.map(key), status: 'pinned', verdicts: [], cloneGroup: null,
});

describe('cloneGroups', () => {
  it('groups guests sharing any key, transitively, largest first, and numbers each guest', () => {
    const scans = [guest('a', 1), guest('b', 2), guest('c', 1, 3), guest('d', 3), guest('e', 2), guest('f', 4), guest('g', 5)];
    const groups = cloneGroups(scans);
    expect(groups.map((g) => g.hosts)).toEqual([['a', 'c', 'd'], ['b', 'e']]);
    expect(groups[0]!.keys.map((k) => k.key[40])).toEqual([1, 3]);
    expect(scans.map((s) => s.cloneGroup)).toEqual([1, 2, 1, 1, 2, null, null]);
  });

  it('finds nothing when every guest has its own keys, and ignores unreachable guests', () => {
    const scans = [guest('a', 1), guest('b', 2), guest('c')];
    expect(cloneGroups(scans)).toEqual([]);
    expect(scans.every((s) => s.cloneGroup === null)).toBe(true);
  });
});

describe('pinStatus', () => {
  const kh = parseKnownHosts(`a ssh-ed25519 ${b64(ed25519(1))}\n@revoked * ssh-ed25519 ${b64(ed25519(9))}\n`);
  it('says pinned, unknown, changed or revoked', () => {
    expect(pinStatus(kh, guest('a'), [key(1)]).status).toBe('pinned');
    expect(pinStatus(kh, guest('b'), [key(2)]).status).toBe('unknown');
    expect(pinStatus(kh, guest('a'), [key(1), key(2)]).status).toBe('changed');
    expect(pinStatus(kh, guest('a'), [key(9), key(2)]).status).toBe('revoked');
  });
});
