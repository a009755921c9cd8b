import { describe, expect, it } from 'vitest';
import { expandFolded, foldHosts, naturalCompare } from '../../src/inventory/index.js';

describe('foldHosts', () => {
  it('folds the last octet of IPv4 addresses', () => {
    const ips = [1, 2, 3, 4, 5, 7].map((n) => `127.77.0.${n}`);
    expect(foldHosts(ips)).toBe('127.77.0.[1-5,7]');
  });

  it('keeps zero padding and suffixes', () => {
    expect(foldHosts(['web02.example.org', 'web01.example.org', 'web03.example.org'])).toBe('web[01-03].example.org');
    expect(foldHosts(['n08', 'n09', 'n10', 'n11'])).toBe('n[08-11]');
    expect(foldHosts(['n1', 'n01', 'n2', 'n02'])).toBe('n[01-02],n[1-2]');
    expect(foldHosts(['n007', 'n1000'])).toBe('n[007,1000]');
  });

  it('folds along whichever run of digits the names vary in, not only the last', () => {
    const names = [
      ...Array.from({ length: 120 }, (_, i) => `web${String(i + 1).padStart(3, '0')}.dc1.example.org`),
      ...Array.from({ length: 40 }, (_, i) => `web${i + 121}.dc2.example.org`),
      'rack2-node07', 'rack2-node08', 'rack3-node07',
    ];
    const folded = foldHosts(names);
    expect(folded).toBe('rack2-node[07-08],rack3-node07,web[001-120].dc1.example.org,web[121-160].dc2.example.org');
    expect(expandFolded(folded).sort()).toEqual([...names].sort());
    // Varying in two runs at once: one family per value of the other run, the larger axis folded.
    expect(foldHosts(['r1n1', 'r1n2', 'r1n3', 'r2n1', 'r2n2', 'r2n3'])).toBe('r1n[1-3],r2n[1-3]');
  });

  it('writes a lone name as itself and sorts naturally', () => {
    expect(foldHosts(['db1'])).toBe('db1');
    expect(foldHosts(['10.0.0.10', '10.0.0.9', 'alpha', '10.0.1.1', '10.0.0.8'])).toBe('10.0.0.[8-10],10.0.1.1,alpha');
    expect(foldHosts(['n10', 'n9', 'n1'])).toBe('n[1,9-10]');
  });

  it('only varies the last digit run', () => {
    expect(foldHosts(['r1n1', 'r1n2', 'r2n1'])).toBe('r1n[1-2],r2n1');
  });

  it('drops duplicates and handles the empty set', () => {
    expect(foldHosts(['a1', 'a1', 'a2'])).toBe('a[1-2]');
    expect(foldHosts([])).toBe('');
    expect(expandFolded('')).toEqual([]);
  });

  it('refuses names that would not survive expansion', () => {
    expect(() => foldHosts(['a,b'])).toThrow(/cannot fold/);
    expect(() => foldHosts(['a[1]'])).toThrow(/cannot fold/);
  });
});

describe('expandFolded', () => {
  it('expands comma-separated ranges and dedupes', () => {
    expect(expandFolded('127.77.0.[1-3,7],web[01-02].x,127.77.0.2')).toEqual([
      '127.77.0.1', '127.77.0.2', '127.77.0.3', '127.77.0.7', 'web01.x', 'web02.x',
    ]);
  });
});

describe('naturalCompare', () => {
  it('orders digit runs numerically', () => {
    expect(['n10', 'n9', 'm2', 'n09'].sort(naturalCompare)).toEqual(['m2', 'n09', 'n9', 'n10']);
  });
});

// A small seeded generator keeps the property test reproducible.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('fold/expand round trip', () => {
  const prefixes = ['node', 'web', '10.1.0.', '10.1.1.', 'db-', '', 'r1n', 'a.b'];
  const suffixes = ['', '.example.org', '-a', 'x'];
  it('expandFolded(foldHosts(s)) is s, for 500 random sets', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const names = new Set<string>();
      const count = Math.floor(r() * 60);
      for (let i = 0; i < count; i++) {
        if (r() < 0.05) {
          names.add(['alpha', 'beta', 'gw'][Math.floor(r() * 3)]);
          continue;
        }
        const n = Math.floor(r() * (r() < 0.5 ? 20 : 300));
        const width = r() < 0.3 ? 1 + Math.floor(r() * 4) : 0;
        const prefix = prefixes[Math.floor(r() * prefixes.length)];
        const suffix = suffixes[Math.floor(r() * suffixes.length)];
        names.add(prefix + String(n).padStart(width, '0') + suffix);
      }
      const folded = foldHosts(names);
      const expanded = expandFolded(folded);
      expect(new Set(expanded), `seed ${seed}: ${folded}`).toEqual(names);
      expect(expanded).toHaveLength(names.size);
      expect(foldHosts(expanded)).toBe(folded);
    }
  });
});
