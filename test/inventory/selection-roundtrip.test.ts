// Every host list fleet prints is a selection it takes back: ClusterShell's nodeset syntax (what
// `clush -b` prints, `clush -w` takes), checked on fixed examples and on seeded random sets.
import { describe, expect, it } from 'vitest';
import { foldHosts, parseInventory, select } from '../../src/inventory/index.js';

const inventoryOf = (names: Iterable<string>) => parseInventory([...names].join('\n'), 'hosts');
const picked = (names: Iterable<string>, pattern: string) => select(inventoryOf(names), pattern).map((h) => h.name).sort();

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('host lists fleet prints, taken back as selections', () => {
  const names = [
    ...Array.from({ length: 200 }, (_, i) => `guest${String(i + 1).padStart(3, '0')}`),
    ...Array.from({ length: 9 }, (_, i) => `web${String(i + 1).padStart(3, '0')}.dc1`),
    ...['rack1-node01', 'rack1-node02', 'rack1-node03', 'rack2-node01', 'rack2-node02', 'rack2-node03'],
    ...['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.7'],
  ];

  it.each([
    ['guest[003,150]', ['guest003', 'guest150']],
    ['web[001-003,007].dc1', ['web001.dc1', 'web002.dc1', 'web003.dc1', 'web007.dc1']],
    ['guest[001-002,199],web[008-009].dc1', ['guest001', 'guest002', 'guest199', 'web008.dc1', 'web009.dc1']],
    ['rack[1-2]-node[01,03]', ['rack1-node01', 'rack1-node03', 'rack2-node01', 'rack2-node03']],
    ['10.1.0.[1-2,7]', ['10.1.0.1', '10.1.0.2', '10.1.0.7']],
    ['guest[001-010/3]', ['guest001', 'guest004', 'guest007', 'guest010']],
    ['guest[001-005]:!guest[002,004]', ['guest001', 'guest003', 'guest005']],
  ])('%s', (pattern, expected) => {
    expect(picked(names, pattern)).toEqual([...expected].sort());
  });

  it('a comma inside brackets that names no host is still an error naming it', () => {
    expect(() => select(inventoryOf(names), 'guest[003,250]')).toThrow("no host or group matches 'guest250'");
  });

  it('fold(any set) selected again gives the same set, for 1000 seeded random sets', () => {
    const prefixes = ['guest', 'web', 'node-', '10.1.0.', '10.1.1.', 'r1n', 'rack2-node', 'db'];
    const suffixes = ['', '.dc1', '.example.org', '-a'];
    for (let seed = 1; seed <= 1000; seed++) {
      const r = rng(seed);
      const all = new Set<string>();
      const count = 1 + Math.floor(r() * 80);
      for (let i = 0; i < count; i++) {
        if (r() < 0.05) {
          all.add(['alpha', 'beta', 'gw'][Math.floor(r() * 3)]!);
          continue;
        }
        const n = Math.floor(r() * (r() < 0.5 ? 20 : 400));
        const width = r() < 0.4 ? 1 + Math.floor(r() * 4) : 0;
        all.add(prefixes[Math.floor(r() * prefixes.length)]! + String(n).padStart(width, '0') + suffixes[Math.floor(r() * suffixes.length)]!);
      }
      const subset = [...all].filter(() => r() < 0.6);
      if (subset.length === 0) subset.push([...all][0]!);
      const folded = foldHosts(subset);
      expect(picked(all, folded), `seed ${seed}: ${folded}`).toEqual([...subset].sort());
    }
  });
});
