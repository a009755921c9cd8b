// Seeded random fleets for the property tests: the same seed always gives the same guests.

/** mulberry32: tiny, fast, and good enough to pick test addresses reproducibly. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randInt = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

export function randomAddress(rand: () => number): string {
  return `10.${randInt(rand, 0, 255)}.${randInt(rand, 0, 255)}.${randInt(rand, 1, 254)}`;
}

/** n guests with distinct addresses; host names are derived from the address like real inventories. */
export function randomFleet(rand: () => number, n: number): Array<{ host: string; address: string }> {
  const seen = new Set<string>();
  const fleet: Array<{ host: string; address: string }> = [];
  while (fleet.length < n) {
    const address = randomAddress(rand);
    if (seen.has(address)) continue;
    seen.add(address);
    fleet.push({ host: `g-${address.replaceAll('.', '-')}`, address });
  }
  return fleet;
}

export function shuffled<T>(rand: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
