// Slot planning: cap, balance, determinism, incremental regeneration and the frozen hash scheme.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import { UsageError } from '../../src/core/errors.js';
import { planSlots, type Plan, type PlanOptions } from '../../src/schedule/index.js';
import { prng, randInt, randomFleet, shuffled } from './fleet.js';

const NIGHT: PlanOptions = { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 15 };

const slotsByHost = (plan: Plan) => new Map(plan.assignments.map((a) => [a.host, a.slot]));

function checkInvariants(plan: Plan, n: number, cap: number): void {
  const s = plan.slots.length;
  expect(plan.assignments).toHaveLength(n);
  expect(plan.optimum).toBe(Math.ceil(n / s));
  for (const slot of plan.slots) expect(slot.hosts.length).toBeLessThanOrEqual(cap);
  expect(plan.peak).toBeLessThanOrEqual(Math.min(cap, plan.optimum + 1));
  expect(plan.slots.reduce((sum, x) => sum + x.hosts.length, 0)).toBe(n);
}

describe('planSlots', () => {
  it('lays the field example out: 35 slots of 12 minutes from 23:00, cron lines per slot', () => {
    const fleet = randomFleet(prng(1), 500);
    const plan = planSlots(fleet, NIGHT);
    expect(plan.slots).toHaveLength(35);
    expect(plan.slots.slice(0, 3).map((s) => s.start)).toEqual(['23:00', '23:12', '23:24']);
    expect(plan.slots[34]!.start).toBe('05:48');
    expect(plan.optimum).toBe(15);
    expect(plan.peak).toBe(15);
    for (const a of plan.assignments) {
      expect(a.start).toBe(plan.slots[a.slot]!.start);
      const [h, m] = a.start.split(':').map(Number);
      expect(a.cron).toBe(`${m} ${h} * * *`);
    }
    checkInvariants(plan, 500, 15);
  });

  it('refuses a fleet that cannot fit and says what would', () => {
    const fleet = randomFleet(prng(2), 500);
    const attempt = () => planSlots(fleet, { ...NIGHT, cap: 14 });
    expect(attempt).toThrow(UsageError);
    // 500 / 14 -> 36 slots of 12 min = 7h12m; 420 / 36 -> 11 min slots; 500 / 35 -> cap 15.
    expect(attempt).toThrow(/500 guests do not fit: 35 slots .* = 490/);
    expect(attempt).toThrow(/at least 7h12m \(36 slots of 12 min, e\.g\. 23:00-06:12\)/);
    expect(attempt).toThrow(/slots of at most 11 min \(38 slots\)/);
    expect(attempt).toThrow(/a cap of at least 15/);
  });

  it('rejects bad options', () => {
    expect(() => planSlots([], { ...NIGHT, window: '23:00' })).toThrow(/invalid window/);
    expect(() => planSlots([], { ...NIGHT, window: '25:00-06:00' })).toThrow(/invalid window/);
    expect(() => planSlots([], { ...NIGHT, slotMinutes: 0 })).toThrow(/invalid slot length/);
    expect(() => planSlots([], { ...NIGHT, cap: 0 })).toThrow(/invalid cap/);
    expect(() => planSlots([], { ...NIGHT, job: 'a b' })).toThrow(/invalid job name/);
    const dup = [{ host: 'a', address: '10.0.0.1' }, { host: 'a', address: '10.0.0.2' }];
    expect(() => planSlots(dup, NIGHT)).toThrow(/listed twice/);
  });

  it('treats equal window ends as the whole day and handles an empty fleet', () => {
    const plan = planSlots([], { ...NIGHT, window: '00:00-00:00', slotMinutes: 60 });
    expect(plan.slots).toHaveLength(24);
    expect(plan.peak).toBe(0);
  });

  it('holds cap and balance, and ignores input order, over random fleets and options', () => {
    const rand = prng(3);
    for (let trial = 0; trial < 150; trial++) {
      const slotMinutes = randInt(rand, 1, 30);
      const start = randInt(rand, 0, 1439);
      const length = randInt(rand, slotMinutes, 1440);
      const clock = (m: number) => `${String(Math.floor((m % 1440) / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
      const window = `${clock(start)}-${clock(start + length)}`;
      const slots = Math.floor((length % 1440 || 1440) / slotMinutes);
      const n = randInt(rand, 0, 600);
      const cap = Math.max(Math.ceil(n / slots), randInt(rand, 1, 40));
      const opts = { job: `job${trial % 3}`, window, slotMinutes, cap };
      const fleet = randomFleet(rand, n);
      const plan = planSlots(fleet, opts);
      checkInvariants(plan, n, cap);
      const again = planSlots(shuffled(rand, fleet), opts);
      expect(slotsByHost(again)).toEqual(slotsByHost(plan));
      for (const a of plan.assignments.slice(0, 3)) expect(() => CronExpressionParser.parse(a.cron)).not.toThrow();
    }
  });

  it('depends on the address and job, not the host name', () => {
    const fleet = randomFleet(prng(4), 200);
    const renamed = fleet.map((g) => ({ host: `renamed-${g.host}`, address: g.address }));
    const a = planSlots(fleet, NIGHT).assignments.map((x) => x.slot);
    expect(planSlots(renamed, NIGHT).assignments.map((x) => x.slot)).toEqual(a);
    const other = planSlots(fleet, { ...NIGHT, job: 'updatedb' }).assignments.map((x) => x.slot);
    expect(other).not.toEqual(a);
  });

  it('keeps its frozen scheme: these slots must never change between versions', () => {
    const fleet = Array.from({ length: 12 }, (_, i) => ({ host: `h${i}`, address: `10.1.0.${i + 1}` }));
    const plan = planSlots(fleet, { job: 'nightly', window: '23:00-01:00', slotMinutes: 30, cap: 4 });
    expect(plan.assignments.map((a) => a.slot)).toEqual(GOLDEN);
  });
});

// Recorded from the scheme documented in src/schedule/plan.ts; update only with a migration plan.
const GOLDEN = [3, 0, 2, 1, 2, 2, 0, 0, 0, 2, 3, 3];

/** The scheme exactly as plan.ts's header documents it, written again from the text alone. */
function documentedScheme(guests: Array<{ host: string; address: string }>, job: string, s: number, cap: number): number[] {
  const h64 = (key: string) => createHash('sha256').update(key, 'utf8').digest().readBigUInt64BE(0);
  const n = guests.length;
  const seats = Array.from({ length: s }, (_, j) => Math.min(cap, Math.floor((n + s - 1 - Math.floor(j / 2)) / s) + 1));
  const load: number[] = new Array(s).fill(0);
  const slot = new Map<string, number>();
  const ranked = guests
    .map((g) => ({ ...g, key: `clonefleet slot v1\n${job}\n${g.address}` }))
    .map((g) => ({ ...g, p: h64(g.key) }))
    .sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
  for (const g of ranked) {
    for (let k = 0; ; k++) {
      const j = Number(h64(`${g.key}\n${k}`) % BigInt(s));
      if (load[j]! < seats[j]!) {
        load[j]!++;
        slot.set(g.host, j);
        break;
      }
    }
  }
  return guests.map((g) => slot.get(g.host)!);
}

describe('the documented scheme', () => {
  it('is what planSlots computes', () => {
    const rand = prng(6);
    for (let trial = 0; trial < 20; trial++) {
      const fleet = randomFleet(rand, randInt(rand, 1, 500));
      const cap = randInt(rand, 15, 30);
      const got = planSlots(fleet, { ...NIGHT, cap }).assignments.map((a) => a.slot);
      expect(got).toEqual(documentedScheme(fleet, NIGHT.job, 35, cap));
    }
  });
});

describe('planSlots with previous slots', () => {
  const fleet = randomFleet(prng(5), 500);

  it('changes nothing when the guests already carry this plan', () => {
    const plan = planSlots(fleet, NIGHT);
    const again = planSlots(fleet, { ...NIGHT, previous: slotsByHost(plan) });
    expect(slotsByHost(again)).toEqual(slotsByHost(plan));
    expect(again.changed).toBe(0);
    expect(plan.changed).toBe(500);
  });

  it('places only newcomers while there is room', () => {
    const base = fleet.slice(0, 480);
    const plan = planSlots(base, { ...NIGHT, cap: 20 });
    const grown = planSlots(fleet, { ...NIGHT, cap: 20, previous: slotsByHost(plan) });
    expect(grown.changed).toBe(20);
    for (const a of grown.assignments.slice(0, 480)) expect(a.slot).toBe(slotsByHost(plan).get(a.host));
    checkInvariants(grown, 500, 20);
  });

  it('moves only displaced guests when the cap drops, and stays within both bounds', () => {
    const plan = planSlots(fleet.slice(0, 300), { ...NIGHT, cap: 20 });
    const previous = slotsByHost(plan);
    // Pile 40 guests into slot 0 as a hand-edited fleet might, then lower the cap.
    for (const g of fleet.slice(0, 40)) previous.set(g.host, 0);
    const next = planSlots(fleet.slice(0, 300), { ...NIGHT, cap: 10, previous });
    checkInvariants(next, 300, 10);
    const moved = next.assignments.filter((a) => a.slot !== previous.get(a.host));
    expect(moved.length).toBe(next.changed);
    // Slot 0 keeps 10 of its 40; every other guest fit under the cap already.
    const overfull = [...previous.values()].filter((s) => s === 0).length;
    expect(next.changed).toBe(overfull - 10);
  });

  it('drops previous slots that no longer exist and recomputes everything with fresh', () => {
    const previous = new Map(fleet.map((g) => [g.host, 99]));
    const plan = planSlots(fleet, { ...NIGHT, previous });
    expect(plan.changed).toBe(500);
    checkInvariants(plan, 500, 15);
    const fresh = planSlots(fleet, { ...NIGHT, previous, fresh: true });
    expect(slotsByHost(fresh)).toEqual(slotsByHost(planSlots(fleet, NIGHT)));
  });
});
