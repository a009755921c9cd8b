// Stability: adding or removing one guest moves very few others, measured over many 500-guest fleets.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { planSlots, type PlanOptions } from '../../src/schedule/index.js';
import { prng, randInt, randomAddress, randomFleet } from './fleet.js';

type Fleet = Array<{ host: string; address: string }>;
type Planner = (fleet: Fleet) => Map<string, number>;

function moved(before: Map<string, number>, after: Map<string, number>): number {
  let count = 0;
  for (const [host, slot] of before) if (after.has(host) && after.get(host) !== slot) count++;
  return count;
}

/** Average and worst number of other guests moved by one addition and one removal per fleet. */
function measure(planner: Planner, fleets: number, seed: number, sizes = [450, 550]): { average: number; worst: number } {
  const rand = prng(seed);
  let total = 0;
  let worst = 0;
  for (let f = 0; f < fleets; f++) {
    const fleet = randomFleet(rand, randInt(rand, sizes[0]!, sizes[1]!));
    const base = planner(fleet);
    let address = randomAddress(rand);
    while (fleet.some((g) => g.address === address)) address = randomAddress(rand);
    const added = moved(base, planner([...fleet, { host: `new-${address}`, address }]));
    const gone = randInt(rand, 0, fleet.length - 1);
    const removed = moved(base, planner(fleet.filter((_, i) => i !== gone)));
    total += added + removed;
    worst = Math.max(worst, added, removed);
  }
  return { average: total / (2 * fleets), worst };
}

const ours = (opts: PlanOptions): Planner => (fleet) =>
  new Map(planSlots(fleet, opts).assignments.map((a) => [a.host, a.slot]));

/** The obvious alternatives: sort by hash, then cut into equal slices or deal out round-robin. */
const rankBased = (slots: number, deal: 'slice' | 'modulo'): Planner => (fleet) => {
  const h = new Map(fleet.map((g) => [g.host, createHash('sha256').update(g.address).digest().readUInt32BE(0)]));
  const sorted = [...fleet].sort((a, b) => h.get(a.host)! - h.get(b.host)!);
  const slotOf = (i: number) => (deal === 'slice' ? Math.floor((i * slots) / sorted.length) : i % slots);
  return new Map(sorted.map((g, i) => [g.host, slotOf(i)]));
};

describe('plan stability', () => {
  // Fleet sizes span every residue of N mod S, since seat counts step with it.
  const configs: Array<[string, PlanOptions, number[]]> = [
    ['35 slots, cap 15 (the field plan, up to 99% full)', { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 15 }, [450, 520]],
    ['35 slots, cap not binding', { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 100 }, [450, 550]],
    ['60 slots, cap not binding', { job: 'nightly', window: '23:00-05:00', slotMinutes: 6, cap: 100 }, [450, 550]],
  ];

  for (const [name, opts, sizes] of configs) {
    it(`moves few guests: ${name}`, () => {
      const { average, worst } = measure(ours(opts), 100, 11, sizes);
      console.log(`stability ${name}: average ${average.toFixed(2)} moved, worst ${worst}`);
      expect(average).toBeLessThan(3);
      expect(worst).toBeLessThanOrEqual(20);
    });
  }

  it('beats rank-based schemes that are just as balanced', () => {
    const mine = measure(ours(configs[1]![1]), 30, 12);
    const slices = measure(rankBased(35, 'slice'), 30, 12);
    const modulo = measure(rankBased(35, 'modulo'), 30, 12);
    console.log(`rank, equal slices: average ${slices.average.toFixed(1)} moved, worst ${slices.worst}`);
    console.log(`rank, round-robin: average ${modulo.average.toFixed(1)} moved, worst ${modulo.worst}`);
    expect(slices.average).toBeGreaterThan(4 * mine.average);
    expect(modulo.average).toBeGreaterThan(50 * mine.average);
  });

  it('moves nobody else when the guests carry their previous slots', () => {
    const rand = prng(13);
    const opts = configs[0]![1];
    for (let f = 0; f < 20; f++) {
      const fleet = randomFleet(rand, 500);
      const previous = new Map(planSlots(fleet.slice(0, 499), opts).assignments.map((a) => [a.host, a.slot]));
      const next = planSlots(fleet, { ...opts, previous });
      expect(next.changed).toBe(1);
      const shrunk = planSlots(fleet.slice(1, 499), { ...opts, previous });
      expect(shrunk.changed).toBe(0);
    }
  });
});
